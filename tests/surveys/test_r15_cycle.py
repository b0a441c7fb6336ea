"""R15 end to end: survey of members and tenants, results, goals published to the membership."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.surveys.models import Goal, GoalLink, Response, Survey
from infrawg.timeutil import utcnow
from tests.conftest import html
from tests.surveys.factories import organisation, question, sheet_version, tenant_form

ANNOUNCE = "announce@foundation.example"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def app_config(smtp_config):
    return smtp_config | {"ANNOUNCE_ADDRESS": ANNOUNCE}


def as_person(client_factory, people, person):
    return people.sign_in(client_factory(), person)


def test_r15_survey_of_members_and_tenants_sets_goals_published_to_the_membership(
    app, client, people, chair, mailbox, send_due
):
    new_client = app.test_client
    members = [people.make(f"Member {i}") for i in range(4)]
    t1, t2, t3 = (people.make(f"Tenant {i}") for i in range(3))
    packaging = organisation("Packaging WG", t1, t2)
    docs = organisation("Docs WG", t3)
    year = utcnow().year
    today = utcnow().date()

    # The chair builds the survey: both audiences, questions in two sections, then opens it.
    boss = as_person(new_client, people, chair)
    response = boss.post(
        "/surveys/new",
        data={
            "title": f"Annual survey {year}",
            "year": year,
            "intro": "How did we do?",
            "audience": "both",
            "opens_on": today.isoformat(),
            "closes_on": (today + timedelta(days=14)).isoformat(),
            "reminder_days": "3",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)[-2000:]
    survey = db.session.scalar(select(Survey).order_by(Survey.id.desc()))
    for section, kind, prompt, options, required in [
        ("members", "single", "Which service matters most?", "DNS\nVMs\nTLS", "y"),
        ("members", "text", "What should we do next year?", "", ""),
        ("tenants", "single", "Are your services reliable?", "Yes\nNo", "y"),
    ]:
        data = {"section": section, "kind": kind, "prompt": prompt, "options_text": options}
        if required:
            data["required"] = required
        assert boss.post(f"/surveys/{survey.id}/questions", data=data).status_code == 303
    asked = html(boss.post(f"/surveys/{survey.id}/open"))
    assert asked.select_one("#confirm-step button").text.startswith("Yes, open the survey")
    assert not mailbox.to(members[0].email)  # nothing is sent before the confirmation
    assert boss.post(f"/surveys/{survey.id}/open", data={"confirmed": "1"}).status_code == 303
    send_due()  # the invitations (a job when the runner is installed)
    invitation = mailbox.wait_for(members[0].email)
    assert invitation.subject == f"[Infra-WG] Survey: Annual survey {year}"
    assert f"/surveys/{survey.id}/answer/packaging-wg" in mailbox.wait_for(t1.email).body

    # Members answer once each: DNS, DNS, VMs, TLS.
    most = question(survey, "Which service matters most?")
    text = question(survey, "What should we do next year?")
    for person, choice, words in zip(
        members, [0, 0, 1, 2], ["IPv6", "", "Backups", ""], strict=True
    ):
        data = {"action": "submit", f"q{most.id}": str(choice)}
        if words:
            data[f"q{text.id}"] = words
        answer = as_person(new_client, people, person).post(
            f"/surveys/{survey.id}/answer", data=data
        )
        assert answer.status_code == 303, answer.get_data(as_text=True)[-1500:]

    # A tenant answers for Packaging WG; a second tenant member sees it and edits it.
    first = as_person(new_client, people, t1)
    url = f"/surveys/{survey.id}/answer/packaging-wg"
    assert first.post(url, data=tenant_form(survey, reliable=0)).status_code == 303
    second = as_person(new_client, people, t2)
    page = html(second.get(url))
    assert "Answered by Tenant 0" in page.select_one("#tenant-status").text
    reliable = question(survey, "Are your services reliable?")
    assert page.select_one(f"#q{reliable.id}-0")["checked"] is not None
    edit = tenant_form(survey, reliable=1, version=sheet_version(page))
    assert second.post(url, data=edit).status_code == 303
    assert "Answered by Tenant 1" in html(second.get(url)).select_one("#tenant-status").text
    assert (
        as_person(new_client, people, t3)
        .post(f"/surveys/{survey.id}/answer/docs-wg", data=tenant_form(survey, reliable=0))
        .status_code
        == 303
    )
    tenant_responses = db.session.scalars(
        select(Response).where(Response.survey_id == survey.id, Response.section == "tenants")
    ).all()
    assert sorted(r.organisation_id for r in tenant_responses) == sorted([packaging.id, docs.id])

    # Closed, the results are computed: exact counts and rates.
    assert boss.post(f"/surveys/{survey.id}/close").status_code == 303
    results = html(as_person(new_client, people, members[0]).get(f"/surveys/{survey.id}/results"))
    rates = {
        row["data-section"]: (
            row.select_one(".responses").text,
            row.select_one(".audience").text,
            row.select_one(".percent").text,
        )
        for row in results.select("tr.rate")
    }
    # 8 members (chair, 4 members, 3 tenant members); 2 organisations receive services.
    assert rates == {"members": ("4", "8", "50.0%"), "tenants": ("2", "2", "100.0%")}

    def counts(question_id):
        block = results.select_one(f"#result-q{question_id}")
        return [
            (r.th.text, r.select_one(".count").text, r.select_one(".percent").text)
            for r in block.select("table.data tbody tr")
        ]

    assert counts(most.id) == [("DNS", "2", "50.0%"), ("VMs", "1", "25.0%"), ("TLS", "1", "25.0%")]
    assert counts(reliable.id) == [("Yes", "1", "50.0%"), ("No", "1", "50.0%")]
    # (Texts come in the responses' random order, never in the order they were given.)
    assert sorted(li.text for li in results.select(f"#result-q{text.id} ul.texts li")) == [
        "Backups",
        "IPv6",
    ]
    chart = results.select_one(f"#chart-q{most.id}")
    assert chart.select_one("title").text == "Which service matters most?"
    assert "DNS: 2 chose it (50.0%)" in chart.select_one("desc").text

    # The chair drafts a goal from the results, linked to the answer that motivated it.
    drafted = boss.post(
        "/goals/new",
        data={
            "year": year + 1,
            "title": "Run DNS on two continents",
            "description": "DNS matters most to members.",
            "owner_id": str(members[0].id),
            "target_on": f"{year + 1}-06-30",
            "survey_id": str(survey.id),
            "links": [f"{most.id}:0"],
        },
    )
    assert drafted.status_code == 303, drafted.get_data(as_text=True)[-1500:]
    goal_id = db.session.scalar(select(Goal.id).where(Goal.title == "Run DNS on two continents"))
    links = db.session.execute(
        select(GoalLink.question_id, GoalLink.option).where(GoalLink.goal_id == goal_id)
    ).all()
    assert [tuple(link) for link in links] == [(most.id, 0)]
    assert new_client().get(f"/goal/{goal_id}").status_code == 404  # a draft is internal
    assert html(new_client().get(f"/goals/{year + 1}")).select_one("#no-goals")

    # Publishing is the chair's explicit act: public page, feed, announcement mail.
    asked = html(boss.post(f"/goals/{year + 1}/publish", data={"note": "Thanks!"}))
    assert asked.select_one("#confirm-step input[name=note]")["value"] == "Thanks!"
    published = boss.post(f"/goals/{year + 1}/publish", data={"note": "Thanks!", "confirmed": "1"})
    assert published.status_code == 303
    send_due()  # (a job when the runner is installed; nothing is sent twice)
    announced = mailbox.wait_for(ANNOUNCE)
    assert announced.subject == f"[Infra-WG] The Infra-WG's goals for {year + 1}"
    assert "Run DNS on two continents" in announced.body
    for person in [chair, *members, t1, t2, t3]:
        assert mailbox.wait_for(person.email).subject == announced.subject
        assert len([m for m in mailbox.to(person.email) if "goals" in m.subject]) == 1

    public = html(new_client().get(f"/goals/{year + 1}"))
    assert [a.text for a in public.select("#published-goals .goal h3 a")] == [
        "Run DNS on two continents"
    ]
    feed = new_client().get(f"/goals/{year + 1}/feed.atom")
    assert feed.status_code == 200
    assert feed.mimetype == "application/atom+xml"
    root = ET.fromstring(feed.get_data())  # noqa: S314 (our own feed)
    assert [e.findtext(f"{ATOM}title") for e in root.findall(f"{ATOM}entry")] == [
        "Run DNS on two continents"
    ]

    # Published goals keep a status with dated updates, on the page and in the feed.
    assert (
        boss.post(
            f"/goal/{goal_id}/updates", data={"status": "in_progress", "note": "Second site up"}
        ).status_code
        == 303
    )
    page = html(new_client().get(f"/goal/{goal_id}"))
    assert page.select_one(".meta .status").text == "In progress"
    assert "Second site up" in page.select_one("#updates").text
    assert page.select_one("#comments") is None  # R16: comments stay with members
    feed = new_client().get(f"/goals/{year + 1}/feed.atom")
    root = ET.fromstring(feed.get_data())  # noqa: S314 (our own feed)
    assert "Second site up" in root.find(f"{ATOM}entry").findtext(f"{ATOM}content")
    # The home page shows the latest goals published.
    home = html(new_client().get("/"))
    assert [a.text for a in home.select("#home-goals a")] == ["Run DNS on two continents"]
