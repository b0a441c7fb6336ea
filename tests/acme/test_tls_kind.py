"""R12 through the site: the `tls` kind and the `acme` provider, against a real pebble that
validates DNS-01 by asking a real BIND 9 (tests/acme/conftest.py), the TXT values placed by
the rfc2136 provider of the zone hosted here."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from infrawg import timeutil
from infrawg.actions import Action
from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.jobs import enqueue, run_due_jobs
from infrawg.provisioning.kinds.dns.capabilities import DnsChallengeSolver
from infrawg.provisioning.kinds.tls import models
from infrawg.provisioning.kinds.tls.issuance import HostedTargets, unmanaged_names
from infrawg.provisioning.kinds.tls.models import TlsIssuance
from infrawg.provisioning.models import ServiceState
from infrawg.provisioning.providers.acme.provider import AcmeProvider, AcmeSettings
from infrawg.provisioning.providers.rfc2136 import Rfc2136Config, Rfc2136Provider
from infrawg.provisioning.registry import build_config
from infrawg.provisioning.secrets import Secret
from tests.acme.conftest import (
    forbid_our_ca,
    request_certificate,
    run_until_settled,
    site_providers,
    verify_chain,
)
from tests.conftest import html, outbox_to
from tests.servers.bind import BindServer
from tests.servers.pebble import PebbleServer


@pytest.fixture
def app_config(acme_registered, acme_bind: BindServer, pebble: PebbleServer, tmp_path: Path):
    return site_providers(acme_bind, pebble, tmp_path)


def test_names_are_checked_on_the_request_form(
    app, people, tenant_member, organisation, tls_type
) -> None:
    tenant = people.sign_in(app.test_client(), tenant_member)
    page = html(tenant.get(f"/services/request?type={tls_type.id}"))
    assert page.select_one("#request-form textarea[name=names]") is not None
    for bad in ("", "www.*.example.org", "localhost", "a..b.org"):
        data = {"organisation": organisation.id, "service_type": tls_type.id, "names": bad}
        assert tenant.post("/services/request", data=data).status_code == 422, bad


def test_r12_dns01_issuance_through_the_site_for_a_hosted_zone(
    app, people, tenant_member, staff, chair, organisation, tls_type, hosted, pebble, tmp_path
) -> None:
    tenant = people.sign_in(app.test_client(), tenant_member)
    service = request_certificate(
        people, tenant, organisation, tls_type, chair, app, f"www.{hosted}\n*.{hosted}\n"
    )
    run_until_settled(service)
    assert service.state == ServiceState.ACTIVE, service.state_reason
    current = models.current_of(service)
    assert current is not None and current.chain_pem
    leaf = verify_chain(current.chain_pem, f"www.{hosted}", pebble)
    assert current.not_after == leaf.not_valid_after_utc.replace(tzinfo=None)
    # The key is a 0600 file in the provider's key directory, not a column.
    key_file = Path(current.key_file or "")
    assert key_file.is_relative_to(tmp_path / "acme-keys")
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" not in current.chain_pem
    # The TXT values are withdrawn again.
    assert not any(c for c in (current.order or {}).get("challenges", []))

    page = html(tenant.get(f"/services/{service.id}"))
    panel = page.select_one("#certificate")
    assert panel is not None and "Valid until" in panel.text and "Next renewal" in panel.text
    assert page.select_one("#tls-history") is not None
    chain = tenant.get(f"/services/{service.id}/tls/chain.pem")
    assert chain.status_code == 200 and chain.text == current.chain_pem
    staff_client = people.sign_in(app.test_client(), staff)
    assert staff_client.get(f"/services/{service.id}/tls/chain.pem").status_code == 200


def test_r12_private_key_downloads_once(
    app, people, tenant_member, staff, chair, organisation, tls_type, hosted
) -> None:
    tenant = people.sign_in(app.test_client(), tenant_member)
    service = request_certificate(
        people, tenant, organisation, tls_type, chair, app, f"api.{hosted}"
    )
    run_until_settled(service)
    assert service.state == ServiceState.ACTIVE, service.state_reason
    staff_client = people.sign_in(app.test_client(), staff)
    assert staff_client.post(f"/services/{service.id}/tls/key").status_code == 403
    first = tenant.post(f"/services/{service.id}/tls/key")
    assert first.status_code == 200 and "PRIVATE KEY" in first.text
    current = models.current_of(service)
    assert current is not None and current.key_downloaded_by_id == tenant_member.id
    assert not Path(current.key_file or "").exists()  # the site's copy is gone
    assert tenant.post(f"/services/{service.id}/tls/key").status_code == 409


def test_r12_unmanaged_name_waits_for_tenant_approval(
    app, people, tenant_member, staff, chair, organisation, tls_type, acme_bind, _zones, pebble
) -> None:
    elsewhere = next(_zones).rstrip(".")  # served by a DNS this site does not manage
    name = f"www.{elsewhere}"
    tenant = people.sign_in(app.test_client(), tenant_member)
    service = request_certificate(people, tenant, organisation, tls_type, chair, app, name)
    run_due_jobs()
    db.session.refresh(service)
    assert service.state == ServiceState.PROVISIONING
    waiting = models.in_flight(service)
    assert waiting is not None and waiting.step == models.AWAITING_TENANT
    assert waiting.order is None  # nothing is ordered before the approval
    page = html(tenant.get(f"/services/{service.id}"))
    instructions = page.select_one("#tls-approval").text
    assert f"_acme-challenge.{name}" in instructions and "CNAME" in instructions
    # Running again changes nothing: it waits for people.
    run_until_quiet()
    assert models.in_flight(service).step == models.AWAITING_TENANT

    staff_client = people.sign_in(app.test_client(), staff)
    assert staff_client.post(f"/services/{service.id}/tls/approve").status_code == 403
    assert tenant.post(f"/services/{service.id}/tls/approve").status_code == 303
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == Action.TLS_UNMANAGED_APPROVED)
    )
    assert event is not None and event.actor_id == tenant_member.id
    run_due_jobs()  # the approval released the job: the order is placed
    waiting = models.in_flight(service)
    assert waiting.step == models.AWAITING_DNS and waiting.order is not None
    page = html(tenant.get(f"/services/{service.id}"))
    manual = page.select_one("#tls-manual-records").text
    challenge = waiting.order["challenges"][0]
    assert challenge["owner"] in manual and challenge["value"] in manual
    checked = tenant.post(f"/services/{service.id}/tls/check", follow_redirects=True)
    assert "Not served yet" in checked.text

    # The tenant sets the TXT value at their own DNS, then checks again.
    theirs = Rfc2136Provider(
        Rfc2136Config(
            server=acme_bind.host,
            port=acme_bind.port,
            tsig_key_name=acme_bind.tsig_key_name,
            tsig_secret=Secret(acme_bind.tsig_secret),
            timeout=5,
        )
    )
    theirs.add_txt(elsewhere + ".", challenge["owner"], challenge["value"])
    checked = tenant.post(f"/services/{service.id}/tls/check", follow_redirects=True)
    assert "Every TXT record is served" in checked.text
    run_until_settled(service)
    assert service.state == ServiceState.ACTIVE, service.state_reason
    current = models.current_of(service)
    assert current is not None and current.approved_by_id == tenant_member.id
    verify_chain(current.chain_pem or "", name, pebble)


def test_r12_a_challenge_delegated_by_cname_is_placed_in_the_hosted_zone(
    app, hosted, acme_bind, _zones
) -> None:
    elsewhere = next(_zones).rstrip(".")
    name = f"cname.{elsewhere}"
    theirs = Rfc2136Provider(
        Rfc2136Config(
            server=acme_bind.host,
            port=acme_bind.port,
            tsig_key_name=acme_bind.tsig_key_name,
            tsig_secret=Secret(acme_bind.tsig_secret),
            timeout=5,
        )
    )
    # What the instructions ask of the tenant: delegate the challenge into a hosted zone.
    from infrawg.provisioning.kinds.dns.names import parse_rrset

    target = f"{name}.{hosted}."
    rrset = parse_rrset(f"_acme-challenge.{name}.", "CNAME", 60, [target], elsewhere + ".")
    update_ = theirs._update(elsewhere + ".")
    update_.add(rrset.name, rrset.ttl, "CNAME", *rrset.values)
    theirs._send(update_)

    # The site places the value at the CNAME's target, through the hosted zone's provider.
    # (A whole issuance through such a CNAME: test_r12_cname_delegated_issuance.)
    engine = AcmeProvider(build_config(AcmeSettings, app.config["PROVIDERS"]["acme"])).engine()
    targets = HostedTargets(engine)
    owner = f"_acme-challenge.{name}."
    assert targets.placement(owner) is not None
    solver, zone = targets(owner)
    assert zone == hosted + "." and isinstance(solver, DnsChallengeSolver)
    solver.add_txt(zone, owner, "delegated-value")
    try:
        assert theirs.wait_for_txt(hosted + ".", target, "delegated-value", 10)
    finally:
        solver.remove_txt(zone, owner, "delegated-value")
    assert unmanaged_names([name]) == [name]  # R12: still a name to approve first


def test_r12_cname_delegated_issuance(
    app, people, tenant_member, chair, organisation, tls_type, hosted, solver, _zones, pebble
) -> None:
    """A name in a zone not hosted here (a zone of the same BIND the site does not manage,
    so BIND answers the CNAME and its target's TXT together, as a recursive resolver would):
    the tenant approves, delegates `_acme-challenge.<name>` by CNAME into the hosted zone,
    clicks "check now", and the site places the TXT value there; pebble follows the CNAME."""
    elsewhere = next(_zones).rstrip(".")
    name = f"www.{elsewhere}"
    tenant = people.sign_in(app.test_client(), tenant_member)
    service = request_certificate(people, tenant, organisation, tls_type, chair, app, name)
    run_due_jobs()
    assert models.in_flight(service).step == models.AWAITING_TENANT
    assert tenant.post(f"/services/{service.id}/tls/approve").status_code == 303
    run_due_jobs()  # the order is placed; nothing delegated yet, so it waits for the tenant
    waiting = models.in_flight(service)
    assert waiting.step == models.AWAITING_DNS
    (challenge,) = waiting.order["challenges"]
    owner = challenge["owner"]
    assert owner == f"_acme-challenge.{name}."
    checked = tenant.post(f"/services/{service.id}/tls/check", follow_redirects=True)
    assert "Not served yet" in checked.text

    # The tenant delegates the challenge at their own DNS, as the instructions say.
    target = f"{name}.{hosted}."
    update_ = solver.provider._update(elsewhere + ".")
    update_.add(owner, 60, "CNAME", target)
    solver.provider._send(update_)
    checked = tenant.post(f"/services/{service.id}/tls/check", follow_redirects=True)
    assert "Every TXT record is served" in checked.text
    run_due_jobs()  # the value goes into the hosted zone, at the CNAME's target
    assert challenge["value"] in solver.served(target)
    assert challenge["value"] in solver.served(owner)  # CNAME and TXT in one answer
    run_until_settled(service)
    assert service.state == ServiceState.ACTIVE, service.state_reason
    current = models.current_of(service)
    assert current is not None and current.approved_by_id == tenant_member.id
    verify_chain(current.chain_pem or "", name, pebble)
    assert challenge["value"] not in solver.served(target)  # withdrawn after issuance


def run_until_quiet() -> None:
    run_due_jobs()
    db.session.commit()


def test_r12_renewal_with_a_moved_clock(
    app, people, tenant_member, chair, organisation, tls_type, hosted, pebble, solver, monkeypatch
) -> None:
    tenant = people.sign_in(app.test_client(), tenant_member)
    service = request_certificate(people, tenant, organisation, tls_type, chair, app, f"r.{hosted}")
    run_until_settled(service)
    first = models.current_of(service)
    assert first is not None and first.not_after is not None

    enqueue("tls.renew")
    db.session.commit()
    run_until_settled(service)
    assert models.current_of(service).id == first.id  # not due yet

    # The renewal job reads infrawg.timeutil.utcnow; the runner keeps the real clock.
    monkeypatch.setattr(timeutil, "utcnow", lambda: first.not_after - timedelta(days=1))
    enqueue("tls.renew")
    db.session.commit()
    run_until_settled(service)
    second = models.current_of(service)
    assert second is not None and second.id != first.id and second.renewal_of_id == first.id
    verify_chain(second.chain_pem or "", f"r.{hosted}", pebble)
    assert any("renewed" in m.subject for m in outbox_to(tenant_member.email))

    # A renewal that fails is mailed too, and the certificate in use stays: the zone now has
    # a CAA record naming another CA only (real, in BIND), which the renewal's check finds.
    forbid_our_ca(solver, hosted)
    monkeypatch.setattr(timeutil, "utcnow", lambda: second.not_after - timedelta(days=1))
    enqueue("tls.renew")
    db.session.commit()
    run_until_settled(service)
    failed = [m for m in outbox_to(tenant_member.email) if "renewal failed" in m.subject]
    assert failed and "allow only letsencrypt.org" in failed[0].body, failed
    assert models.current_of(service).id == second.id


def test_r12_decommission_revokes(
    app, people, tenant_member, chair, organisation, tls_type, hosted, pebble
) -> None:
    tenant = people.sign_in(app.test_client(), tenant_member)
    service = request_certificate(people, tenant, organisation, tls_type, chair, app, f"d.{hosted}")
    run_until_settled(service)
    current = models.current_of(service)
    assert current is not None and current.serial
    # A renewal waiting for people when the service goes is abandoned with it.
    waiting = TlsIssuance(service_id=service.id, names=current.names, step=models.AWAITING_TENANT)
    db.session.add(waiting)
    db.session.commit()
    page = html(tenant.get(f"/services/{service.id}/decommission"))
    reviewed = page.select_one("input[name=reviewed]")["value"]
    response = tenant.post(
        f"/services/{service.id}/decommission", data={"reviewed": reviewed, "reason": "done"}
    )
    assert response.status_code == 303
    run_until_settled(service)
    assert service.state == ServiceState.DECOMMISSIONED
    assert pebble.cert_status(int(current.serial, 16))["Status"] == "Revoked"
    db.session.refresh(waiting)
    assert waiting.step == models.FAILED and "decommissioned" in (waiting.error or "")
