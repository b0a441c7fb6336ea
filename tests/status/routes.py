"""Route access rows of the status area (see tests/route_access.py)."""

from datetime import timedelta

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.status import service as notices
from infrawg.status.models import NoticeKind
from infrawg.tenants.models import TenantOrganisation
from infrawg.timeutil import utcnow
from tests.route_access import DECIDERS, PUBLIC, Row, World, post_profile, profile

SLUG = "tenant-fixture-wg"  # the tenant_member fixture's organisation
MEMBERS = profile(200, anonymous=302, applicant=403, board=403, former_member=403)
DECIDE = {"staff", "chair"}


def populate(world: World) -> None:
    from tests.status.conftest import make_service

    organisation = db.session.scalar(
        select(TenantOrganisation).where(TenantOrganisation.slug == SLUG)
    )
    service = make_service(
        organisation, "routes-status.example.org.", world.people["tenant_member"]
    )
    notice = notices.announce(
        world.people["staff"],
        notices.NoticeInput(
            NoticeKind.MAINTENANCE,
            "Route check",
            "What",
            "Impact",
            "A public summary",
            utcnow() + timedelta(days=1),
            None,
            [service.id],
        ),
    )
    db.session.commit()
    world.objects["impact_notice"] = notice


def _notice(path: str = ""):
    return lambda w: f"/status/notices/{w.objects['impact_notice'].id}{path}"


ROWS = [
    Row("status.status_page", "GET", "/status", PUBLIC),
    # Public, for Alertmanager: off (404) without INFRAWG_ALERT_WEBHOOK_TOKEN; with it, the
    # bearer token and not a session decides (tests/status/test_alert_webhook.py).
    Row("status.alert_webhook", "POST", "/status/alerts", profile(404)),
    Row(
        "status.notice_ics", "GET", lambda w: f"/status/{w.objects['impact_notice'].id}.ics", PUBLIC
    ),
    Row("status.mine", "GET", "/status/mine", MEMBERS),
    Row(
        "status.acknowledge",
        "POST",
        _notice("/acknowledge"),
        # 404: a member who was not told has nothing to acknowledge (and learns nothing).
        profile(404, anonymous=302, applicant=403, board=403, former_member=403, tenant_member=303),
    ),
    Row("status.notices", "GET", "/status/notices", DECIDERS),
    Row("status.new_notice", "GET", "/status/notices/new", DECIDERS),
    Row("status.new_notice", "POST", "/status/notices/new", post_profile(DECIDE, 422)),
    Row("status.notice", "GET", _notice(), DECIDERS),
    Row("status.post_update", "POST", _notice("/update"), post_profile(DECIDE, 422)),
    Row("status.all_clear", "POST", _notice("/all-clear"), post_profile(DECIDE, 422)),
]
