"""Feeds are documents: hostile titles, notes and names come back exactly, through a parser.

The goals' Atom feed (R15: published to the whole membership) is read back with the
standard library's XML parser and with feedparser; the milestones' calendar (R16: members'
secret link) with icalendar's own parser.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import feedparser
from flask import g
from icalendar import Calendar

from infrawg.extensions import db
from infrawg.surveys import goals, milestones
from infrawg.surveys.models import GoalStatus, MilestoneStatus, ProjectKind
from infrawg.timeutil import utcnow
from tests.conftest import html

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = 'Fish & chips <script>alert("x")</script> ]]> <![CDATA[ x ]]> é 🚀 ümlaut'
# CR, LF and CRLF each between words.
LINES = "one\rtwo\nthree\r\nfour & <b>five</b> ]]>"


def test_r15_goals_feed_round_trips_hostile_titles_notes_and_names(app, client, people, chair):
    owner = people.make('<img src=x onerror=alert(1)> "Eve" & Co ]]>')
    g.pop("_roles", None)
    goal = goals.draft_goal(
        chair,
        goals.GoalInput(utcnow().year + 1, HOSTILE, LINES, owner.id, None, None, []),
    )
    db.session.commit()
    goals.publish_year(chair, goal.year, "")
    db.session.commit()
    g.pop("_roles", None)
    goals.add_update(chair, goals.get_goal(goal.id, chair), GoalStatus.IN_PROGRESS, LINES)
    db.session.commit()

    feed = client.get(f"/goals/{goal.year}/feed.atom")
    assert feed.status_code == 200
    assert feed.mimetype == "application/atom+xml"
    body = feed.get_data()
    root = ET.fromstring(body)  # noqa: S314 (our own feed)
    (entry,) = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == HOSTILE
    assert entry.findtext(f"{ATOM}summary") == f"In progress, owner {owner.name}"
    day = utcnow().date().isoformat()
    assert entry.findtext(f"{ATOM}content") == (
        f"{LINES}\n\n{day} In progress: {LINES}\n\n{day} Planned: Published."
    )
    assert entry.find(f"{ATOM}link").get("href") == f"http://localhost/goal/{goal.id}"
    # No element came from the text: the only children are the feed's own.
    assert not list(root.iter("script"))
    assert {child.tag for child in entry} <= {
        f"{ATOM}{name}"
        for name in (
            "id",
            "title",
            "link",
            "published",
            "updated",
            "category",
            "summary",
            "content",
        )
    }
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.entries[0].title == HOSTILE


def test_r16_milestone_calendar_round_trips_hostile_titles_and_notes(app, client, people, staff):
    name = "Relay & <Co> ]]> 🚀"
    g.pop("_roles", None)
    project = milestones.create_project(staff, name, "relay", "", ProjectKind.OWN, None)
    owner = people.make('Zoë "<b>" ; , \\ Owner')
    title = "Go\rlive; now, please \\ " + HOSTILE
    notes = LINES + " " + "long " * 40
    due = utcnow().date() + timedelta(days=9)
    milestones.add_milestone(
        staff,
        project,
        milestones.MilestoneInput(title, due, owner.id, MilestoneStatus.PLANNED, notes),
    )
    db.session.commit()
    reader = people.sign_in(app.test_client(), people.make("Reader"))
    link = html(reader.post("/projects/relay/calendar-link")).select_one("#calendar-link")["value"]
    calendar = client.get(link.removeprefix("http://localhost"))
    assert calendar.status_code == 200
    assert calendar.mimetype == "text/calendar"
    body = calendar.get_data()

    # The document: CRLF line ends only, no line over 75 octets, no lone CR or LF.
    assert not re.search(rb"\r(?!\n)", body)
    assert not re.search(rb"(?<!\r)\n", body)
    assert max(len(line) for line in body.split(b"\r\n")) <= 75

    (event,) = Calendar.from_ical(body).walk("VEVENT")

    # iCalendar TEXT has one line break: a CR or CRLF typed arrives as LF, all else exact.
    def lf(text):
        return text.replace("\r\n", "\n").replace("\r", "\n")

    assert str(event["SUMMARY"]) == lf(f"{name}: {title}")
    assert str(event["DESCRIPTION"]) == lf(
        f"Status: Planned\nOwner: {owner.name}\n\n{notes.strip()}"
    )
    assert event.decoded("DTSTART") == due
    assert event.decoded("DTEND") == due + timedelta(days=1)
