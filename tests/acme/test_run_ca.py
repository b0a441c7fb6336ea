"""`make run-ca`'s path, as a newcomer in `make run` walks it: a zone hosted on the zonefile
provider (the demo's DNS type, DNSSEC-signed), the small DNS server answering from its files
(tests/servers/zonefile_dns.py), and a real pebble validating DNS-01 through that server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.provisioning.kinds.dns.models import DnsZone
from infrawg.provisioning.kinds.tls import models
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from tests.acme.conftest import CA_IDENTITY, request_certificate, run_until_settled, verify_chain
from tests.servers.pebble import PebbleServer, running_pebble
from tests.servers.zonefile_dns import ZonefileDns


@pytest.fixture
def zonefile_dns(tmp_path: Path) -> Iterator[ZonefileDns]:
    (tmp_path / "zones").mkdir()
    server = ZonefileDns(tmp_path / "zones").start()
    yield server
    server.stop()


@pytest.fixture
def demo_pebble(zonefile_dns: ZonefileDns) -> Iterator[PebbleServer]:
    with running_pebble(zonefile_dns.address) as server:
        yield server


@pytest.fixture
def app_config(acme_registered, tmp_path: Path, zonefile_dns, demo_pebble):
    return {
        "PROVIDERS": {
            "zonefile": {
                "directory": str(tmp_path / "zones"),
                "key_directory": str(tmp_path / "zone-keys"),
            },
            "acme": {
                "directory_url": demo_pebble.directory_url,
                "key_directory": str(tmp_path / "acme-keys"),
                "ca_identities": CA_IDENTITY,
                "ca_bundle": str(demo_pebble.ca_bundle),
                "caa_nameserver": zonefile_dns.address,
            },
        }
    }


def ask(server: ZonefileDns, name: str, rdtype: str, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, server.host, port=server.port, timeout=5)


def test_r12_demo_certificate_through_zonefile_dns(
    app, people, tenant_member, chair, organisation, tls_type, zonefile_dns, demo_pebble
) -> None:
    tenant = people.sign_in(app.test_client(), tenant_member)
    dns_type = ServiceType(
        name="DNS hosting", kind="dns", provider="zonefile", created_by_id=chair.id
    )
    db.session.add(dns_type)
    db.session.commit()
    data = {
        "organisation": organisation.id,
        "service_type": dns_type.id,
        "zone": "docs.example.org",
        "dnssec": "y",
    }
    assert tenant.post("/services/request", data=data).status_code == 303
    zone_service = db.session.scalar(select(Service).where(Service.service_type_id == dns_type.id))
    chair_client = people.sign_in(app.test_client(), chair)
    assert chair_client.post(f"/services/{zone_service.id}/decide/approve").status_code == 303
    run_until_settled(zone_service)
    assert zone_service.state == ServiceState.ACTIVE, zone_service.state_reason
    assert db.session.scalar(select(DnsZone.name)) == "docs.example.org."

    # The DNS server answers from the file: authoritative, over UDP and TCP.
    soa = ask(zonefile_dns, "docs.example.org.", "SOA")
    assert soa.answer and soa.flags & dns.flags.AA
    assert ask(zonefile_dns, "docs.example.org.", "DNSKEY", tcp=True).answer  # signed
    assert ask(zonefile_dns, "nothing.docs.example.org.", "A").rcode() == dns.rcode.NXDOMAIN
    above = ask(zonefile_dns, "example.org.", "CAA")
    assert above.rcode() == dns.rcode.NOERROR and not above.answer
    assert ask(zonefile_dns, "example.net.", "A").rcode() == dns.rcode.NXDOMAIN

    service = request_certificate(
        people,
        tenant,
        organisation,
        tls_type,
        chair,
        app,
        "docs.example.org\n*.docs.example.org\n",
    )
    run_until_settled(service)
    assert service.state == ServiceState.ACTIVE, service.state_reason
    current = models.current_of(service)
    assert current is not None and current.chain_pem
    verify_chain(current.chain_pem, "www.docs.example.org", demo_pebble)
    verify_chain(current.chain_pem, "docs.example.org", demo_pebble)
    # The TXT values are gone from the zone file again.
    txt = ask(zonefile_dns, "_acme-challenge.docs.example.org.", "TXT")
    assert not txt.answer


def test_zonefile_dns_follows_a_cname_into_another_zone_it_serves(tmp_path: Path) -> None:
    (tmp_path / "zones").mkdir()
    for origin, body in (
        ("theirs.example.net", "_acme-challenge.www IN CNAME www.ours.example.org.\n"),
        ("ours.example.org", 'www IN TXT "delegated"\n'),
    ):
        (tmp_path / "zones" / f"{origin}.zone").write_text(
            f"$ORIGIN {origin}.\n$TTL 60\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n"
            f"@ IN NS ns1\nns1 IN A 127.0.0.1\n{body}"
        )
    server = ZonefileDns(tmp_path / "zones").start()
    try:
        answer = ask(server, "_acme-challenge.www.theirs.example.net.", "TXT")
        types = [dns.rdatatype.to_text(r.rdtype) for r in answer.answer]
        assert types == ["CNAME", "TXT"] and "delegated" in answer.answer[1].to_text()
        # A file written now is served at the next query.
        path = tmp_path / "zones" / "ours.example.org.zone"
        path.write_text(path.read_text().replace('"delegated"', '"changed"'))
        assert "changed" in ask(server, "www.ours.example.org.", "TXT", tcp=True).to_text()
    finally:
        server.stop()
