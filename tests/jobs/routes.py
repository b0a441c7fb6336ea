"""Route access rows of the site's jobs: schedules and a job's live progress (see
tests/route_access.py; the queue and the job page are in tests/provisioning/routes.py)."""

from infrawg.extensions import db
from infrawg.jobs.runner import enqueue
from infrawg.surveys.mailing import SEND_JOB
from tests.route_access import DECIDERS, Row, World, post_profile, profile

# Who follows a job about a tenant's service: its tenant member, staff and the chair; another
# member is told there is nothing there; those who see no services at all are refused.
FOLLOWS_SERVICE_JOB = profile(
    403, anonymous=302, member=404, tenant_member=200, staff=200, chair=200
)
# A job about nothing (or not about a tenant's service) is staff's alone.
STAFF_ONLY_JOB = FOLLOWS_SERVICE_JOB | {"tenant_member": 404}


def populate(world: World) -> None:
    # (The job about the tenant's service, world.objects["job"], comes from provisioning.)
    world.objects["job_about_nothing"] = enqueue(SEND_JOB)
    db.session.commit()


ROWS = [
    Row("jobs.schedules_page", "GET", "/jobs/schedules", DECIDERS),
    Row(
        "jobs.run_schedule",
        "POST",
        "/jobs/schedules/membership.list_poll/run",
        post_profile({"staff", "chair"}, 303),
    ),
    Row(
        "jobs.job_progress",
        "GET",
        lambda w: f"/jobs/{w.objects['job'].id}/progress",
        FOLLOWS_SERVICE_JOB,
    ),
    Row(
        "jobs.job_progress",
        "GET",
        lambda w: f"/jobs/{w.objects['job_about_nothing'].id}/progress",
        STAFF_ONLY_JOB,
    ),
]
