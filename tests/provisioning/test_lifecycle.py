"""A service's life after approval, on the real components: DNSSEC re-signing with a moved
clock (zone files), drift found on the real BIND, and R7 suspension through the same path."""

from __future__ import annotations

import calendar
from datetime import timedelta

import dns.dnssec
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update
import dns.zone
import pytest
from sqlalchemy import select

from infrawg import timeutil
from infrawg.extensions import db
from infrawg.jobs.models import Job
from infrawg.jobs.runner import enqueue, run_due_jobs
from infrawg.provisioning import lifecycle
from infrawg.provisioning.kinds.dns.resign import RESIGN_JOB
from infrawg.provisioning.models import Service, ServiceState
from infrawg.provisioning.service import provider_for
from tests.conftest import html, outbox_to
from tests.provisioning.test_jobs import approved_zone, log_of  # noqa: F401
from tests.provisioning.test_zones import (  # noqa: F401
    add,
    answer,
    apply_reviewed_plan,
    bind_type,
    chair_client,
    tenant,
)


@pytest.fixture
def signed_zone(request) -> Service:
    """test_jobs' approved, DNSSEC-signed docs.example.org on the zonefile provider."""
    return request.getfixturevalue("approved_zone")


@pytest.fixture
def on_bind(request) -> tuple:
    """test_zones' tenant client, chair client and DNS-on-BIND service type."""
    names = ("tenant", "chair_client", "bind_type")
    return tuple(request.getfixturevalue(name) for name in names)


def _validates(path: str, zone_name: str, when: int) -> bool:
    """Every signed RRset of the zone file validates at POSIX time `when` (dnspython)."""
    zone = dns.zone.from_file(path, origin=zone_name, relativize=False)
    origin = dns.name.from_text(zone_name)
    keys = {origin: zone.get_rdataset(origin, dns.rdatatype.DNSKEY)}
    checked = 0
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            if rdataset.rdtype == dns.rdatatype.RRSIG:
                continue
            sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rdataset.rdtype)
            if sigs is None:
                continue
            try:
                dns.dnssec.validate((name, rdataset), (name, sigs), keys, now=when)
            except dns.dnssec.ValidationFailure:
                return False
            checked += 1
    return checked > 0


def test_r11_a_signed_zone_untouched_for_30_days_still_validates(app, signed_zone, monkeypatch):
    zone_service = signed_zone
    run_due_jobs()
    assert zone_service.state == ServiceState.ACTIVE
    path = str(provider_for("zonefile").zone_path("docs.example.org."))
    start = timeutil.utcnow()
    later = start + timedelta(days=30)
    # Signatures last 21 days: without re-signing the zone is dead by day 30.
    assert _validates(path, "docs.example.org.", calendar.timegm(start.timetuple()))
    assert not _validates(path, "docs.example.org.", calendar.timegm(later.timetuple()))

    resigned = 0
    for day in range(1, 31):
        moved = start + timedelta(days=day)
        monkeypatch.setattr(timeutil, "utcnow", lambda moved=moved: moved)
        resign = enqueue(RESIGN_JOB)
        db.session.commit()
        run_due_jobs()
        resigned += "docs.example.org.: re-signed" in log_of(resign)
        # Each day of the clock, the zone on disk validates.
        assert _validates(path, "docs.example.org.", calendar.timegm(moved.timetuple())), day
    assert 1 <= resigned <= 3  # only when the signatures come close to expiring


def test_r11_a_record_changed_behind_the_sites_back_on_bind_is_drift(
    app, bind, bind_zone, on_bind, organisation, staff, tenant_member
):
    tenant_client, chair_client_, bind_type_ = on_bind
    zone_name = bind_zone()
    data = {"organisation": organisation.id, "service_type": bind_type_.id, "zone": zone_name}
    assert tenant_client.post("/services/request", data=data).status_code == 303
    service = db.session.scalar(select(Service))
    assert chair_client_.post(f"/services/{service.id}/decide/approve").status_code == 303
    run_due_jobs()
    assert add(tenant_client, service, "www", "A", "192.0.2.80").status_code == 303
    apply_reviewed_plan(tenant_client, service)
    run_due_jobs()
    assert service.state == ServiceState.ACTIVE
    enqueue(lifecycle.VERIFY_JOB)
    db.session.commit()
    run_due_jobs()
    assert service.state == ServiceState.ACTIVE, service.state_reason

    # Someone changes the record on the server directly, with the server's own key.
    key = dns.tsig.Key(bind.tsig_key_name, bind.tsig_secret, bind.tsig_algorithm)
    update = dns.update.UpdateMessage(zone_name, keyring=key, keyname=key.name)
    update.replace(f"www.{zone_name}", 300, "A", "198.51.100.66")
    dns.query.tcp(update, bind.host, port=bind.port, timeout=5)
    assert answer(bind, f"www.{zone_name}", "A") == {"198.51.100.66"}

    verify = enqueue(lifecycle.VERIFY_JOB)
    db.session.commit()
    run_due_jobs()
    assert service.state == ServiceState.DRIFTED
    assert f"www.{zone_name} A" in service.state_reason
    assert "198.51.100.66" in service.state_reason
    assert f"{zone_name}: 1 check(s) failed" in log_of(verify)
    # Staff and the tenant_client members are told (R5).
    assert any("Drifted" in m.subject for m in outbox_to(tenant_member.email))
    assert any("Drifted" in m.subject for m in outbox_to(staff.email))
    page = html(tenant_client.get(f"/services/{service.id}"))
    assert page.select_one("#service-state").text.startswith("Drifted")
    # The reviewed plan brings it back.
    assert "www." in apply_reviewed_plan(tenant_client, service)
    run_due_jobs()
    assert answer(bind, f"www.{zone_name}", "A") == {"192.0.2.80"}
    assert service.state == ServiceState.ACTIVE


def test_r7_a_suspension_runs_the_provider_through_a_plan(app, signed_zone):
    zone_service = signed_zone
    run_due_jobs()
    assert zone_service.state == ServiceState.ACTIVE
    lifecycle.suspend(None, zone_service, "R7: the charter ended")
    db.session.commit()
    run_due_jobs()
    assert zone_service.state == ServiceState.SUSPENDED
    suspension = db.session.scalar(select(Job).where(Job.kind == "services.suspend"))
    # DNS keeps serving what it holds while suspended: the plan is empty, and on record.
    assert "in sync, nothing to do" in suspension.plan
    lifecycle.resume(None, zone_service, "R8: recognised")
    db.session.commit()
    run_due_jobs()
    assert zone_service.state == ServiceState.ACTIVE


def test_a_zone_is_decommissioned_through_its_reviewed_destroy_plan(
    app, signed_zone, tenant_member
):
    zone_service = signed_zone
    run_due_jobs()
    service = lifecycle.load(zone_service.id)
    path = provider_for("zonefile").zone_path("docs.example.org.")
    assert path.exists()
    plan = lifecycle.review_destroy(tenant_member, service)
    assert plan.destroy and "docs.example.org. NS" in plan.render()
    lifecycle.request_decommission(tenant_member, service, lifecycle.digest(plan), "moved away")
    db.session.commit()
    run_due_jobs()
    assert zone_service.state == ServiceState.DECOMMISSIONED
    assert not path.exists()


def test_the_chair_suspends_and_resumes_a_service_from_its_page(
    app, signed_zone, people, chair, tenant_member
):
    zone_service = signed_zone
    run_due_jobs()
    deciding = people.sign_in(app.test_client(), chair)
    page = html(deciding.get(f"/services/{zone_service.id}"))
    assert page.select_one("#suspension button").text.startswith("Suspend")
    refused = deciding.post(f"/services/{zone_service.id}/suspend", data={"reason": ""})
    assert refused.status_code == 422
    assert zone_service.state == ServiceState.ACTIVE
    done = deciding.post(f"/services/{zone_service.id}/suspend", data={"reason": "abuse"})
    assert done.status_code == 303
    assert zone_service.state == ServiceState.SUSPENDED and zone_service.state_reason == "abuse"
    assert any("Suspended" in m.subject for m in outbox_to(tenant_member.email))
    run_due_jobs()
    assert deciding.post(f"/services/{zone_service.id}/resume").status_code == 303
    run_due_jobs()
    assert zone_service.state == ServiceState.ACTIVE
