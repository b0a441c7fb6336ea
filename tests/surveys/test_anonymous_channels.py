"""R15: nothing a member can read or download lines an anonymous answer up with a person.

Every channel of a section (page, CSV, text list, chart, count) obeys one suppression
rule, anonymous responses carry no time and no insertion order, and the audit trail of
an anonymous survey names nobody and keeps only the day.
"""

from __future__ import annotations

import csv
import io
import itertools

import pytest
from sqlalchemy import select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.surveys import models
from infrawg.surveys.models import Answer, Audience, Response
from tests.conftest import html
from tests.surveys.factories import (
    close,
    make_survey,
    member_form,
    organisation,
    question,
    tenant_form,
)


@pytest.fixture
def reversed_draws(monkeypatch):
    """The random sort key, pinned to the one draw a test can tell from insertion order:
    each response's key is lower than the one before (a real draw is any permutation)."""
    keys = itertools.count(2**30, -1)
    monkeypatch.setattr(models, "random_sort_key", lambda: next(keys), raising=False)


def answer(app, people, survey, person, **choices):
    client = people.sign_in(app.test_client(), person)
    response = client.post(f"/surveys/{survey.id}/answer", data=member_form(survey, **choices))
    assert response.status_code == 303, response.get_data(as_text=True)[-1000:]


def export(client, survey) -> list[list[str]]:
    response = client.get(f"/surveys/{survey.id}/results.csv")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_r15_anonymous_export_cannot_be_linked_to_audit(app, people, chair, member, reversed_draws):
    survey = make_survey(chair, Audience.MEMBERS, anonymous=True)
    answerers = [people.make(f"Answerer {i}") for i in range(6)]
    # One of them saves a draft first: that leaves no name in the trail either.
    drafting = people.sign_in(app.test_client(), answerers[0])
    saved = drafting.post(
        f"/surveys/{survey.id}/answer", data={**member_form(survey), "action": "draft"}
    )
    assert saved.status_code == 303
    in_order = [f"text of answerer {i}" for i in range(len(answerers))]
    for person, text in zip(answerers, in_order, strict=True):
        answer(app, people, survey, person, most=0, text=text)
    close(chair, survey)
    reader = people.sign_in(app.test_client(), member)

    # The audit trail: a member reads no answering events at all (they concern nobody
    # they could be), and even the chair reads only that responses came in, by nobody, on
    # a day.
    def answering_rows(client):
        return [
            [td.get_text(strip=True) for td in tr.select("td")]
            for tr in html(client.get("/audit")).select("tr.audit-event")
            if tr.select_one(".action").text in {"survey.answered", "survey.draft_saved"}
        ]

    assert answering_rows(reader) == []
    trail = html(reader.get("/audit"))
    rows = answering_rows(people.sign_in(app.test_client(), chair))
    assert len(rows) == 7
    assert {row[1] for row in rows} == {"the site"}
    assert len({row[0] for row in rows}) == 1 and rows[0][0].endswith("00:00 UTC")
    assert not any(p.name in trail.text or p.email in trail.text for p in answerers)

    # The CSV: no time, no id, rows numbered in an order that is not the answers' order.
    rows = export(reader, survey)
    header, body = rows[0], rows[1:]
    assert header[:2] == ["response", "section"]
    assert not {"submitted", "person", "organisation"} & set(header)
    text_column = header.index("[members] What should we do next year?")
    exported = [row[text_column] for row in body]
    assert sorted(exported) == sorted(in_order)
    assert exported != in_order and exported == in_order[::-1]
    # Numbered in the export's own order: no row carries its response's id.
    assert [row[0] for row in body] == [str(n) for n in range(1, 7)]
    id_of = dict(db.session.execute(select(Answer.text, Answer.response_id)).all())
    assert not [row for row in body if row[0] == str(id_of[row[text_column]])]
    assert not any(p.email in c or p.name in c for row in rows for c in row for p in answerers)

    # The text list (on the results page and on its own page): the same order, not theirs.
    text_q = question(survey, "What should we do next year?")
    page = html(reader.get(f"/surveys/{survey.id}/results"))
    assert [li.text for li in page.select(f"#result-q{text_q.id} ul.texts li")] == exported
    listed = html(reader.get(f"/surveys/{survey.id}/results/questions/{text_q.id}"))
    assert [li.text for li in listed.select("ul.texts li")] == exported

    # And the database keeps no time to line up.
    assert set(db.session.scalars(select(Response.submitted_at))) == {None}
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.in_(["survey.answered", "survey.draft_saved"]))
    ).all()
    assert {e.actor_id for e in events} == {None}


def test_r15_anonymous_tenant_section_under_five_is_not_in_the_export(app, people, chair, member):
    survey = make_survey(chair, Audience.BOTH, anonymous=True)
    for i in range(5):
        answer(app, people, survey, people.make(f"Member {i}"), most=i % 3, text=f"member {i}")
    for i in range(2):
        tenant = people.make(f"Tenant {i}")
        org = organisation(f"Org {i}", tenant)
        client = people.sign_in(app.test_client(), tenant)
        sent = client.post(
            f"/surveys/{survey.id}/answer/{org.slug}", data=tenant_form(survey, need=f"org {i}")
        )
        assert sent.status_code == 303
    close(chair, survey)
    reader = people.sign_in(app.test_client(), member)

    page = html(reader.get(f"/surveys/{survey.id}/results"))
    assert page.select_one("#section-tenants .suppressed")["data-reason"] == "few"
    assert not page.select_one("#section-members .suppressed")
    rows = export(reader, survey)
    assert {row[1] for row in rows[1:]} == {"members"}
    assert len(rows) == 6
    assert not [h for h in rows[0] if h.startswith("[tenants]")]
    assert not any("org " in cell for row in rows for cell in row)
    need = question(survey, "What do you need?")
    texts = html(reader.get(f"/surveys/{survey.id}/results/questions/{need.id}"))
    assert texts.select_one(".suppressed") and "org " not in texts.text


def test_r15_anonymous_breakdown_waits_for_the_close_in_every_channel(app, people, chair):
    # Looking before and after one more answer would show that answer: while an anonymous
    # survey runs, even its managers see counts only.
    survey = make_survey(chair, Audience.MEMBERS, anonymous=True)
    for i in range(5):
        answer(app, people, survey, people.make(f"Early {i}"), most=0, text=f"early {i}")
    boss = people.sign_in(app.test_client(), chair)
    page = html(boss.get(f"/surveys/{survey.id}/results"))
    assert page.select_one("tr.rate .responses").text == "5"
    assert page.select_one("#section-members .suppressed")["data-reason"] == "open"
    assert not page.select(".question-result") and not page.select("svg")
    assert export(boss, survey)[1:] == []
    text_q = question(survey, "What should we do next year?")
    texts = html(boss.get(f"/surveys/{survey.id}/results/questions/{text_q.id}"))
    assert texts.select_one(".suppressed")["data-reason"] == "open"
    assert "early" not in texts.text

    close(chair, survey)
    page = html(boss.get(f"/surveys/{survey.id}/results"))
    assert not page.select(".suppressed")
    assert len(export(boss, survey)) == 6


def test_csv_export_neutralises_spreadsheet_formulas(app, people, chair, member):
    survey = make_survey(chair, Audience.BOTH)
    hostile = ['=HYPERLINK("http://evil.example","x")', "+1", "-1", "@SUM(A1:A9)"]
    for i, text in enumerate(hostile):
        answer(app, people, survey, people.make(f"=cmd|' /C calc'!A{i}"), most=0, text=text)
    tenant = people.make("Tenant")
    org = organisation("=1+1 WG", tenant, slug="formula-wg")
    sent = people.sign_in(app.test_client(), tenant).post(
        f"/surveys/{survey.id}/answer/formula-wg", data=tenant_form(survey, need="=2+2")
    )
    assert sent.status_code == 303
    close(chair, survey)
    rows = export(people.sign_in(app.test_client(), member), survey)
    texts = [row[rows[0].index("[members] What should we do next year?")] for row in rows[1:]]
    assert sorted(t for t in texts if t) == sorted("'" + t for t in hostile)
    tenant_row = next(row for row in rows[1:] if row[1] == "tenants")
    assert tenant_row[rows[0].index("organisation")] == f"'{org.name}"
    assert tenant_row[rows[0].index("[tenants] What do you need?")] == "'=2+2"
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@")]
