"""Feeds: Atom of the published goals (template ``surveys/goals.atom``) and iCalendar
(RFC 5545) of a project's milestones, written here because its folding and escaping are
line rules, not markup.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from infrawg.surveys.models import Project

PRODID = "-//Infra-WG//infrawg milestones//EN"


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> Iterator[str]:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    data = line.encode()
    while len(data) > 75:
        cut = 75
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # do not split a UTF-8 sequence
            cut -= 1
        yield data[:cut].decode()
        data = b" " + data[cut:]
    yield data.decode()


def project_calendar(project: Project, host: str, now: datetime, link: str) -> str:
    """The project's milestones as all-day VEVENTs, CRLF line ends."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_escape(project.name)} milestones",
    ]
    for milestone in project.milestones:
        description = f"Status: {milestone.status.label}"
        if milestone.owner is not None:
            description += f"\nOwner: {milestone.owner.name}"
        if milestone.notes:
            description += f"\n\n{milestone.notes}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:milestone-{milestone.id}@{host}",
            f"DTSTAMP:{stamp}",
            f"LAST-MODIFIED:{milestone.updated_at.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTSTART;VALUE=DATE:{milestone.due_on.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(milestone.due_on + timedelta(days=1)).strftime('%Y%m%d')}",
            f"SUMMARY:{_escape(f'{project.name}: {milestone.title}')}",
            f"DESCRIPTION:{_escape(description)}",
            f"URL:{link}",
            "STATUS:CONFIRMED",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(f"{part}\r\n" for line in lines for part in _fold(line))
