"""Feeds are documents, not templates: the goals' Atom feed is written by ``feedgen``, a
project's milestones as iCalendar (RFC 5545) by ``icalendar``. Both escape, encode and
fold what people typed; nothing here builds markup or lines by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from feedgen.feed import FeedGenerator
from icalendar import Calendar, Event

from infrawg.surveys.models import Goal, Project

PRODID = "-//Infra-WG//infrawg milestones//EN"
# XML 1.0 cannot carry these at all (not even as character references); they are dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def aware_utc(moment: datetime) -> datetime:
    """Our times are naive UTC; the libraries want them aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def goals_atom(
    year: int,
    goals: list[Goal],
    updated: datetime,
    *,
    site_name: str,
    host: str,
    self_url: str,
    page_url: str,
    goal_url: Callable[[Goal], str],
) -> bytes:
    """The year's published goals as an Atom feed (RFC 4287), UTF-8 XML."""
    feed = FeedGenerator()
    feed.id(f"tag:{host},{year}:goals")
    feed.title(_xml_text(f"{site_name} goals for {year}"))
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.link(href=page_url, rel="alternate", type="text/html")
    feed.updated(aware_utc(updated))
    feed.author(name=_xml_text(f"The chair of the {site_name}"))
    feed.language("en")
    for goal in goals:
        entry = feed.add_entry(order="append")
        entry.id(f"tag:{host},{year}:goal-{goal.id}")
        entry.title(_xml_text(goal.title))
        entry.link(href=goal_url(goal), rel="alternate", type="text/html")
        # The feed lists published goals only: each has its time of publication.
        published = goal.published_at or goal.updated_at
        entry.published(aware_utc(published))
        changed = [goal.updated_at, published, *(u.created_at for u in goal.updates)]
        entry.updated(aware_utc(max(changed)))
        entry.category(term=goal.status.value, label=goal.status.label)
        entry.summary(_xml_text(goal_summary(goal)), type="text")
        entry.content(_xml_text(goal_content(goal)), type="text")
    return feed.atom_str(pretty=True, encoding="utf-8")


def goal_summary(goal: Goal) -> str:
    summary = goal.status.label
    if goal.target_on:
        summary += f", target {goal.target_on.isoformat()}"
    if goal.owner is not None:
        summary += f", owner {goal.owner.name}"
    return summary


def goal_content(goal: Goal) -> str:
    content = goal.description
    for update in goal.updates:
        content += f"\n\n{update.created_at.date().isoformat()} {update.status.label}"
        if update.note:
            content += f": {update.note}"
    return content


def project_calendar(project: Project, host: str, now: datetime, link: str) -> bytes:
    """The project's milestones as all-day VEVENTs.

    iCalendar TEXT knows one line break (``\\n``): a CR or CRLF typed in a note arrives
    as LF, which is what calendar programs show.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{project.name} milestones")
    for milestone in project.milestones:
        description = f"Status: {milestone.status.label}"
        if milestone.owner is not None:
            description += f"\nOwner: {milestone.owner.name}"
        if milestone.notes:
            description += f"\n\n{milestone.notes}"
        event = Event()
        event.add("uid", f"milestone-{milestone.id}@{host}")
        event.add("dtstamp", aware_utc(now))
        event.add("last-modified", aware_utc(milestone.updated_at))
        event.add("dtstart", milestone.due_on)
        event.add("dtend", milestone.due_on + timedelta(days=1))
        event.add("summary", ics_text(f"{project.name}: {milestone.title}"))
        event.add("description", ics_text(description))
        event.add("url", link)
        event.add("status", "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()


def ics_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
