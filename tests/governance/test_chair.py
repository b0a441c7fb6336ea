"""R6: the board appoints the chair by resolution; at most one chair; bootstrap."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from tests.conftest import html, outbox_to
from tests.queries import count


def chairs() -> list[RoleGrant]:
    return db.session.scalars(
        select(RoleGrant).where(RoleGrant.role == Role.CHAIR, RoleGrant.ended_at.is_(None))
    ).all()


def appoint(client, email, confirmed=True, **fields):
    data = {
        "email": email,
        "resolution_ref": "2026-05-12-03",
        "resolution_date": "2026-05-12",
        "reason": "",
    } | fields
    if confirmed:
        data["confirmed"] = "1"
    return client.post("/board/chair", data=data)


def test_r6_board_appoints_a_chair_who_replaces_the_previous_one(
    client, people, board, chair, member
):
    people.sign_in(client, board)
    step = appoint(client, member.email, confirmed=False)
    assert step.status_code == 200
    assert chair.name in html(step).select_one("#appoint-chair .confirm").text
    assert [g.person_id for g in chairs()] == [chair.id]  # nothing yet

    response = appoint(client, member.email)
    assert response.status_code == 303
    (current,) = chairs()
    assert current.person_id == member.id
    assert current.authority == "board resolution"
    assert current.resolution_ref == "2026-05-12-03"
    assert current.resolution_date == date(2026, 5, 12)
    assert current.granted_by_id == board.id
    previous = db.session.scalar(
        select(RoleGrant).where(RoleGrant.person_id == chair.id, RoleGrant.role == Role.CHAIR)
    )
    assert previous.ended_at is not None
    assert "2026-05-12-03" in previous.end_reason
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"chair.appointed", "chair.replaced"} <= actions
    assert outbox_to(member.email)[-1].subject == f"[Infra-WG] {member.name} is appointed chair"

    charter = html(client.get("/charter"))
    assert "2026-05-12-03" in charter.select_one("#current-chair").text
    history = html(people.sign_in(client, member).get(f"/people/{chair.id}"))
    assert "ended" not in history.select_one(".current-roles").text
    assert "Replaced by board resolution" in history.select_one("tr.grant-chair").text


def test_r6_appointing_the_current_chair_again_is_refused(client, people, board, chair):
    people.sign_in(client, board)
    response = appoint(client, chair.email)
    assert response.status_code == 409
    assert "already the chair" in html(response).select_one("#email-errors").text
    assert [g.person_id for g in chairs()] == [chair.id]


def test_r6_appointment_without_a_resolution_is_refused(client, people, board, member):
    people.sign_in(client, board)
    response = appoint(client, member.email, resolution_ref="")
    assert response.status_code == 422
    assert "board's resolution" in html(response).select_one("#resolution_ref-errors").text
    assert chairs() == []


def test_r6_only_the_board_appoints_the_chair(client, people, chair, member):
    people.sign_in(client, chair)
    before = count(RoleGrant)
    response = appoint(client, member.email)
    assert response.status_code == 403
    assert count(RoleGrant) == before
    refused = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "refused"))
    assert "/board/chair" in refused.reason


def test_r6_a_second_chair_is_refused_by_the_database_too(chair, member):
    db.session.add(RoleGrant(person_id=member.id, role=Role.CHAIR, authority="test"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert len(chairs()) == 1


def test_r6_bootstrap_sets_the_first_chair_and_board(runner, member):
    result = runner.invoke(
        args=[
            "infrawg",
            "bootstrap",
            "--chair",
            member.email,
            "--board",
            "b1@example.org",
            "--board",
            "b2@example.org",
        ]
    )
    assert result.exit_code == 0, result.output
    (current,) = chairs()
    assert current.person_id == member.id
    assert current.authority == "bootstrap"
    board = db.session.scalars(select(RoleGrant).where(RoleGrant.role == Role.BOARD)).all()
    assert len(board) == 2


def test_r6_bootstrap_is_refused_once_there_is_a_chair(runner, chair, member):
    before = count(RoleGrant)
    result = runner.invoke(
        args=["infrawg", "bootstrap", "--chair", member.email, "--board", "b@example.org"]
    )
    assert result.exit_code != 0
    assert "already has a chair" in result.output
    assert count(RoleGrant) == before
