"""Route access rows of the tenants area (see tests/route_access.py)."""

from infrawg.extensions import db
from infrawg.tenants.models import COApplication, TenantInvitation, TenantOrganisation
from infrawg.tokens import make_token
from tests.route_access import CHAIR, PUBLIC, Row, World, post_profile, profile

SLUG = "tenant-fixture-wg"  # the tenant_member fixture's organisation
READERS = profile(200, anonymous=302, applicant=403, former_member=403)
MEMBERS_NOW = {"member", "tenant_member", "staff", "chair"}


def populate(world: World) -> None:
    from sqlalchemy import select

    organisation = db.session.scalar(
        select(TenantOrganisation).where(TenantOrganisation.slug == SLUG)
    )
    application = COApplication(
        organisation_id=organisation.id,
        applicant_id=world.people["tenant_member"].id,
        services="DNS",
        mission_statement="It furthers the mission.",
    )
    invitation = TenantInvitation(
        organisation_id=organisation.id,
        email=world.people["member"].email,
        invited_by_id=world.people["tenant_member"].id,
    )
    db.session.add_all([application, invitation])
    db.session.commit()
    world.objects["co_application"] = application
    world.objects["invitation"] = invitation


def _token(world: World) -> str:
    invitation = world.objects["invitation"]
    return make_token("tenant-invitation", {"invitation": invitation.id, "email": invitation.email})


def _decide(side: str):
    return lambda w: f"/applications/{w.objects['co_application'].id}/{side}/approve"


ROWS = [
    Row("tenants.organisations", "GET", "/organisations?q=fix", READERS),
    Row("tenants.organisation", "GET", f"/organisations/{SLUG}", READERS),
    Row("tenants.new_working_group", "GET", "/organisations/new-wg", CHAIR),
    Row("tenants.new_working_group", "POST", "/organisations/new-wg", post_profile({"chair"}, 422)),
    Row(
        "tenants.apply",
        "GET",
        "/organisations/apply",
        profile(200, anonymous=302, applicant=403, board=403, former_member=403),
    ),
    Row("tenants.apply", "POST", "/organisations/apply", post_profile(MEMBERS_NOW, 422)),
    Row(
        "tenants.end_charter",
        "POST",
        f"/organisations/{SLUG}/end-charter",
        post_profile({"chair"}, 200),  # 200: the confirmation step
    ),
    Row(
        "tenants.apply_co",
        "POST",
        f"/organisations/{SLUG}/apply-co",
        post_profile({"tenant_member"}, 422),
    ),
    Row(
        "tenants.invite",
        "POST",
        f"/organisations/{SLUG}/invite",
        post_profile({"tenant_member", "chair"}, 422),
    ),
    Row(
        "tenants.handover",
        "POST",
        f"/organisations/{SLUG}/handover",
        post_profile({"tenant_member"}, 422),
    ),
    Row(
        "tenants.leave",
        "POST",
        f"/organisations/{SLUG}/leave",
        post_profile({"tenant_member"}, 200),  # 200: the confirmation step
    ),
    Row(
        "tenants.decide",
        "POST",
        _decide("chair"),
        post_profile({"chair"}, 303),
        {"reason": "Fits the mission."},
    ),
    Row(
        "tenants.decide",
        "POST",
        _decide("board"),
        post_profile({"board"}, 303),
        {"reason": "Fits the mission."},
    ),
    Row("tenants.invitation", "GET", lambda w: f"/invitations/{_token(w)}", PUBLIC),
    Row(
        "tenants.accept_invitation",
        "POST",
        lambda w: f"/invitations/{_token(w)}/accept",
        post_profile({"member"}, 303),
    ),
]
