"""The seams between areas: signals connected per app in each area's init_app."""

from __future__ import annotations

import pytest
from blinker import Signal
from sqlalchemy import func, select

from infrawg import create_app, signals
from infrawg.actions import Action
from infrawg.audit import AuditEvent
from infrawg.errors import Conflict
from infrawg.extensions import db
from infrawg.governance import service as governance
from infrawg.governance.models import Role, RoleGrant
from infrawg.membership import service as membership
from infrawg.membership.models import MembershipStatus
from infrawg.tenants import service as tenants
from infrawg.tenants.models import TenantMember
from tests.conftest import base_config, make_organisation


def _events(action: Action) -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


def test_leaving_runs_each_areas_handler_once_however_many_apps_were_built(
    app, database_url, people
):
    # Other apps built in the same process (as the suite does), and an area connecting its
    # handlers a second time, leave one connection each for this app.
    others = [create_app(base_config(database_url)) for _ in range(2)]
    governance.init_signals(app)
    tenants.init_signals(app)
    leaver = people.make("Lee Leaver", roles=(Role.STAFF,))
    colleague = people.make("Col League")
    make_organisation("Docs WG", leaver, colleague)

    membership.leave(leaver, "Moving on")
    db.session.commit()

    assert leaver.status == MembershipStatus.LEFT
    assert _events(Action("staff.ended")) == 1
    assert _events(Action.TENANT_MEMBER_LEFT) == 1
    assert db.session.scalar(select(RoleGrant.ended_at).where(RoleGrant.person_id == leaver.id))
    assert (
        db.session.scalar(
            select(TenantMember.end_reason).where(TenantMember.person_id == leaver.id)
        )
        == "Left the group"
    )
    assert others  # kept alive until here: their connections must not have run either


def test_r4_a_veto_from_tenants_refuses_leaving_and_changes_nothing(app, people):
    leaver = people.make("Lee Leaver", roles=(Role.STAFF,))
    make_organisation("Docs WG", leaver)

    with pytest.raises(Conflict, match="last tenant member of Docs WG"):
        membership.leave(leaver, "Moving on")
    db.session.rollback()

    assert leaver.status == MembershipStatus.MEMBER
    assert _events(Action("staff.ended")) == 0
    assert (
        db.session.scalar(select(TenantMember.ended_at).where(TenantMember.person_id == leaver.id))
        is None
    )


def test_a_handler_connected_for_one_app_never_runs_for_another(app, database_url):
    other = create_app(base_config(database_url))
    signal = Signal("test-only")  # the areas' handlers stay out of it
    heard: list[object] = []

    def record(sender, **data) -> None:
        heard.append(sender)

    signals.connect(other, signal, record)
    signals.send(signal, reason="test")
    assert heard == []
    with other.app_context():
        signals.send(signal, reason="test")
    assert heard == [other]


def test_each_app_keeps_its_own_nav_counters(app, database_url):
    before = len(app.extensions["infrawg_nav_counters"])
    other = create_app(base_config(database_url))
    mine = app.extensions["infrawg_nav_counters"]
    theirs = other.extensions["infrawg_nav_counters"]
    # Each area (and kind) adds its counter once per app: building another app adds none to
    # this one, and the other has the same set, none twice.
    assert (
        len(mine) == before == len(theirs) == len({c.__qualname__ + c.__module__ for c in theirs})
    )
    assert {c.__module__ for c in theirs} >= {
        "infrawg.jobs.views",
        "infrawg.membership.views",
        "infrawg.governance.views",
        "infrawg.provisioning.views",
        "infrawg.status",
    }
    assert mine is not theirs


def test_each_app_has_its_own_commands(app, database_url):
    other = create_app(base_config(database_url))
    group = app.cli.commands["infrawg"]
    assert group is not other.cli.commands["infrawg"]
    assert {"bootstrap", "list", "archive", "surveys", "worker", "requeue-jobs"} <= set(
        group.commands
    )
