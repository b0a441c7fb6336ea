"""Route access rows of the service layer (see tests/route_access.py)."""

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.jobs.runner import enqueue
from infrawg.provisioning import service as services
from infrawg.provisioning.kinds.app.models import AppVersion
from infrawg.provisioning.kinds.dns.models import DnsRecord, DnsZone
from infrawg.provisioning.kinds.domain.models import DomainRegistration
from infrawg.provisioning.models import Service, ServiceType
from infrawg.provisioning.providers.cookbook import AppSpec
from infrawg.tenants.models import TenantMember, TenantOrganisation
from tests.route_access import DECIDERS, MEMBERS, Row, World, post_profile, profile

MEMBERS_NOW = {"member", "tenant_member", "staff", "chair"}
# Who sees the tenant's service: its tenant member, staff and the chair; another member is
# told there is nothing there (cross-tenant lookups find nothing).
SEES_SERVICE = profile(403, anonymous=302, member=404, tenant_member=200, staff=200, chair=200)


def seen_then(status: int) -> dict[str, int]:
    """A POST on the service: `status` for those who see it, 404 for another member."""
    return post_profile({"tenant_member", "staff", "chair"}, status) | {"member": 404}


def populate(world: World) -> None:
    tenant = world.people["tenant_member"]
    organisation = db.session.scalar(
        select(TenantOrganisation)
        .join(TenantMember, TenantMember.organisation_id == TenantOrganisation.id)
        .where(TenantMember.person_id == tenant.id, TenantMember.ended_at.is_(None))
    )
    service_type = ServiceType(name="DNS hosting", kind="dns", provider="zonefile", capacity=3)
    db.session.add(service_type)
    db.session.flush()
    requested = services.request_service(
        tenant, organisation, service_type, {"zone": "routes.example.org"}
    )
    record = db.session.scalar(
        select(DnsRecord).join(DnsZone).where(DnsZone.service_id == requested.id)
    )
    job = enqueue("provision_service", subject=requested, service_id=requested.id)
    # A domain registration (R10), made as rows: the world configures no `manual` provider.
    domain_type = ServiceType(name="Domains", kind="domain", provider="manual")
    db.session.add(domain_type)
    db.session.flush()
    domain = Service(
        organisation_id=organisation.id,
        service_type_id=domain_type.id,
        name="routes-example.org",
        requested_by_id=tenant.id,
    )
    db.session.add(domain)
    db.session.flush()
    db.session.add(DomainRegistration(service_id=domain.id, domain="routes-example.org"))
    db.session.commit()
    world.objects.update(
        service_type=service_type, service=requested, record=record, job=job, domain=domain
    )
    _populate_app(world, organisation)


def _populate_app(world: World, organisation: TenantOrganisation) -> None:
    """An application service (R14), still requested (edits wait: 409), with a draft version."""
    tenant = world.people["tenant_member"]
    app_type = ServiceType(name="Application hosting", kind="app", provider="cookbook_dir")
    db.session.add(app_type)
    db.session.flush()
    service = Service(
        organisation_id=organisation.id,
        service_type_id=app_type.id,
        name="routes_app",
        parameters={"cookbook": "routes_app", "vm": ""},
        requested_by_id=tenant.id,
    )
    db.session.add(service)
    db.session.flush()
    spec = AppSpec("routes_app", "1.0.0", "Tenant", "t@example.org", "Routes", packages=("nginx",))
    db.session.add(
        AppVersion(service_id=service.id, number=1, spec=spec.to_dict(), author_id=tenant.id)
    )
    db.session.commit()
    world.objects["app_service"] = service


def _app(path: str = ""):
    return lambda w: f"/services/{w.objects['app_service'].id}/app{path}"


def _service(path: str = ""):
    return lambda w: f"/services/{w.objects['service'].id}{path}"


def _domain(path: str = ""):
    return lambda w: f"/services/{w.objects['domain'].id}{path}"


def _record(path: str = ""):
    return lambda w: f"/services/{w.objects['service'].id}/records/{w.objects['record'].id}{path}"


ROWS = [
    Row("provisioning.services", "GET", "/services", MEMBERS),
    Row("provisioning.catalogue", "GET", "/services/catalogue", MEMBERS),
    Row(
        "provisioning.add_service_type",
        "POST",
        "/services/catalogue",
        post_profile({"chair"}, 422),
    ),
    Row(
        "provisioning.update_service_type",
        "POST",
        lambda w: f"/services/catalogue/{w.objects['service_type'].id}",
        post_profile({"chair"}, 303),
    ),
    Row("provisioning.request_service", "GET", "/services/request", MEMBERS),
    Row(
        "provisioning.request_service", "POST", "/services/request", post_profile(MEMBERS_NOW, 422)
    ),
    Row("provisioning.service_page", "GET", _service(), SEES_SERVICE),
    Row(
        "provisioning.decide",
        "POST",
        _service("/decide/approve"),
        post_profile({"chair"}, 303),
    ),
    # Records wait until the zone is provisioned: those who may edit them get 409.
    Row("provisioning.add_record", "POST", _service("/records"), seen_then(409)),
    Row("provisioning.edit_record", "GET", _record("/edit"), SEES_SERVICE),
    Row("provisioning.update_record", "POST", _record(), seen_then(409)),
    Row("provisioning.delete_record", "POST", _record("/delete"), seen_then(409)),
    Row("provisioning.set_dnssec", "POST", _service("/dnssec"), seen_then(409)),
    Row("provisioning.plan", "GET", _service("/plan"), SEES_SERVICE | seen_then(409)),
    Row("provisioning.apply", "POST", _service("/apply"), seen_then(400)),
    Row("provisioning.delegation", "POST", _service("/delegation"), seen_then(409)),
    Row(
        "provisioning.decommission_plan",
        "GET",
        _service("/decommission"),
        SEES_SERVICE | seen_then(409),
    ),
    Row("provisioning.decommission", "POST", _service("/decommission"), seen_then(400)),
    # The world's service is a zone, not a server: those who see it are told so.
    Row("provisioning.vm_reboot", "POST", _service("/vm/reboot"), seen_then(400)),
    Row(
        "provisioning.vm_rebuild_plan",
        "GET",
        _service("/vm/rebuild"),
        SEES_SERVICE | seen_then(400),
    ),
    Row("provisioning.vm_rebuild", "POST", _service("/vm/rebuild"), seen_then(400)),
    Row(
        "provisioning.suspend_or_resume",
        "POST",
        _service("/suspend"),
        post_profile({"chair"}, 409),
    ),
    # R12 certificates, on a service with none: those who see it are told there is none (404);
    # the key, the approval and "check now" are a tenant member's alone (staff: 403).
    Row(
        "provisioning.tls_chain",
        "GET",
        _service("/tls/chain.pem"),
        SEES_SERVICE | {"tenant_member": 404, "staff": 404, "chair": 404},
    ),
    Row(
        "provisioning.tls_key",
        "POST",
        _service("/tls/key"),
        post_profile({"tenant_member"}, 404) | {"member": 404},
    ),
    Row(
        "provisioning.tls_approve",
        "POST",
        _service("/tls/approve"),
        post_profile({"tenant_member"}, 409) | {"member": 404},
    ),
    Row(
        "provisioning.tls_check",
        "POST",
        _service("/tls/check"),
        post_profile({"tenant_member"}, 409) | {"member": 404},
    ),
    Row("provisioning.server_backups", "GET", "/services/backups", DECIDERS),
    # R14: the application's versions; the service is still requested, so edits wait (409).
    Row("provisioning.save_app_version", "POST", _app("/versions"), seen_then(409)),
    Row("provisioning.app_version", "GET", _app("/versions/1"), SEES_SERVICE),
    Row("provisioning.submit_app_version", "POST", _app("/versions/1/submit"), seen_then(303)),
    Row(
        "provisioning.review_app_version",
        "POST",
        _app("/versions/1/approve"),
        post_profile({"staff", "chair"}, 409) | {"member": 404},
    ),
    Row("provisioning.publish_app_version", "POST", _app("/versions/1/publish"), seen_then(409)),
    # R10: domain registrations. Empty forms are refused (422); no registrar task is open and
    # the board was not asked (409); only staff record the task, only the board decides.
    Row("provisioning.service_page", "GET", _domain(), SEES_SERVICE),
    Row("provisioning.domain_payment", "POST", _domain("/domain/payment"), seen_then(422)),
    Row(
        "provisioning.domain_ask_foundation",
        "POST",
        _domain("/domain/foundation"),
        seen_then(422),
    ),
    Row(
        "provisioning.domain_task_done",
        "POST",
        _domain("/domain/task"),
        post_profile({"staff", "chair"}, 409) | {"member": 404},
    ),
    Row("provisioning.domain_renew", "POST", _domain("/domain/renew"), seen_then(409)),
    Row(
        "provisioning.domain_board_queue",
        "GET",
        "/services/domains/board",
        profile(403, anonymous=302, board=200),
    ),
    Row(
        "provisioning.domain_board_decide",
        "POST",
        _domain("/domain/board"),
        post_profile({"board"}, 422),  # no decision chosen
    ),
    Row("jobs.job_queue", "GET", "/jobs", DECIDERS),
    Row(
        "jobs.job_page",
        "GET",
        lambda w: f"/jobs/{w.objects['job'].id}",
        DECIDERS,
    ),
    Row(
        "jobs.retry_job",
        "POST",
        lambda w: f"/jobs/{w.objects['job'].id}/retry",
        post_profile({"staff", "chair"}, 409),
    ),
]
