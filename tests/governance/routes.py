"""Route access rows of the governance area (see tests/route_access.py)."""

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant, StaffRequest
from tests.route_access import CHAIR, MEMBERS, PUBLIC, SIGNED_IN, Row, World, post_profile, profile

BOARD = profile(403, anonymous=302, board=200)


def populate(world: World) -> None:
    member = world.people["member"]
    staff_request = StaffRequest(person_id=member.id, motivation="I run servers at work.")
    db.session.add(staff_request)
    db.session.commit()
    world.objects["staff_request"] = staff_request
    world.objects["staff_grant"] = db.session.scalar(
        select(RoleGrant).where(
            RoleGrant.person_id == world.people["staff"].id, RoleGrant.role == Role.STAFF
        )
    )


ROWS = [
    Row("governance.audit_trail", "GET", "/audit", MEMBERS),
    Row("governance.audit_csv", "GET", "/audit.csv?action=refused", MEMBERS),
    Row("governance.charter", "GET", "/charter", PUBLIC),
    Row("governance.people", "GET", "/people?q=mem", MEMBERS),
    Row("governance.person", "GET", lambda w: f"/people/{w.people['member'].id}", MEMBERS),
    Row("governance.my_roles", "GET", "/account/roles", SIGNED_IN),
    Row(
        "governance.ask_staff",
        "POST",
        "/account/roles/staff-request",
        # the member already asked (populate); staff are staff already
        post_profile({"tenant_member", "chair"}, 303) | {"member": 409, "staff": 409},
        {"motivation": "I can help with DNS."},
    ),
    Row(
        "governance.withdraw_staff_request",
        "POST",
        lambda w: f"/account/roles/staff-request/{w.objects['staff_request'].id}/withdraw",
        post_profile({"member"}, 303, refused=404),
    ),
    Row(
        "governance.step_down",
        "POST",
        "/account/roles/step-down",
        post_profile({"staff"}, 303, refused=409),
        {"reason": "", "confirmed": "1"},
    ),
    Row("governance.chair_queue", "GET", "/chair", CHAIR),
    Row(
        "governance.decide_staff_request",
        "POST",
        lambda w: f"/chair/staff-requests/{w.objects['staff_request'].id}/grant",
        post_profile({"chair"}, 303),
        {"reason": "Welcome"},
    ),
    Row(
        "governance.grant_staff",
        "POST",
        "/chair/staff",
        post_profile({"chair"}, 422),
        {"email": "nobody@example.org", "reason": "x"},
    ),
    Row(
        "governance.keep_staff",
        "POST",
        lambda w: f"/chair/staff/{w.objects['staff_grant'].id}/keep",
        post_profile({"chair"}, 303),
    ),
    Row(
        "governance.revoke_staff",
        "POST",
        lambda w: f"/chair/staff/{w.objects['staff_grant'].id}/revoke",
        post_profile({"chair"}, 200),  # 200: the confirmation step
    ),
    Row("governance.board_queue", "GET", "/board", BOARD),
    Row("governance.appoint_chair", "POST", "/board/chair", post_profile({"board"}, 422)),
]
