"""Pages of governance."""

from __future__ import annotations

from flask import request
from sqlalchemy.orm import selectinload

from infrawg import audit
from infrawg.audit import AuditEvent
from infrawg.governance import bp
from infrawg.membership.service import person_by_email
from infrawg.policy import Permission, requires
from infrawg.web import paginate, render


@bp.get("/audit")
@requires(Permission.AUDIT_READ)
def audit_trail():
    action = request.args.get("action") or None
    person_email = (request.args.get("person") or "").strip()
    person = person_by_email(person_email) if person_email else None
    if person_email and person is None:
        page = None  # an unknown person has no events; say so rather than show everything
    else:
        stmt = audit.events_query(action, person.id if person else None)
        page = paginate(stmt.options(selectinload(AuditEvent.actor)), per_page=50)
    return render(
        "governance/audit.html",
        "governance/_audit_rows.html",
        page=page,
        actions=audit.known_actions(),
        action=action,
        person_email=person_email,
    )
