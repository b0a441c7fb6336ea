"""Demo data of governance: an open staff request (the chair appointment is in infrawg.demo)."""

from __future__ import annotations

from infrawg import audit
from infrawg.actions import Action
from infrawg.extensions import db
from infrawg.governance.models import StaffRequest
from infrawg.membership.models import Person


def load_demo(people: dict[str, Person]) -> None:
    member = people["member1@example.org"]
    request = StaffRequest(
        person_id=member.id,
        motivation="I run the mail servers of a university and would like to help with ours.",
    )
    db.session.add(request)
    db.session.flush()
    audit.record(member, Action.STAFF_REQUESTED, request, request.motivation)
