"""Pages of surveys run a fixed number of queries, whatever the number of rows (no N+1)."""

from __future__ import annotations

from flask import g

from infrawg.extensions import db
from infrawg.surveys import answers, responses
from infrawg.surveys.models import Audience
from tests.queries import counted_queries
from tests.surveys.factories import close, make_survey, member_form, organisation, tenant_form


def answered_survey(people, chair, members: int, organisations: int):
    survey = make_survey(chair, Audience.BOTH)
    for i in range(members):
        person = people.make(f"Q member {people.counter}")
        g.pop("_roles", None)
        answers.submit_member_response(
            person,
            survey,
            member_form(survey, most=i % 3, uses=(0, 1), rating=3, text="x", rank=(1, 2, 3)),
        )
    for i in range(organisations):
        tenant = people.make(f"Q tenant {people.counter}")
        org = organisation(f"Query org {survey.id}-{i}", tenant)
        g.pop("_roles", None)
        responses.submit_tenant_response(tenant, survey, org, tenant_form(survey, need="y"))
    db.session.commit()
    close(chair, survey)
    return survey


def queries_for(client, url: str) -> int:
    with counted_queries() as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(statements)


def test_results_page_queries_do_not_grow_with_responses(app, people, chair):
    small = answered_survey(people, chair, members=2, organisations=1)
    large = answered_survey(people, chair, members=12, organisations=5)
    client = people.sign_in(app.test_client(), chair)
    for suffix in ("results", "results/print"):
        few = queries_for(client, f"/surveys/{small.id}/{suffix}")
        many = queries_for(client, f"/surveys/{large.id}/{suffix}")
        assert few == many, suffix
        assert many <= 22, many


def test_survey_list_and_goal_pages_queries_do_not_grow(app, people, chair, member):
    client = people.sign_in(app.test_client(), member)
    make_survey(chair, Audience.MEMBERS)
    one = queries_for(client, "/surveys")
    for _ in range(6):
        make_survey(chair, Audience.MEMBERS)
    assert queries_for(client, "/surveys") == one
    assert one <= 14, one
