"""TLS benchmarks: `python tests/bench/bench_tls.py` (not collected by pytest).

Certificates issued by a real pebble (`PEBBLE_VA_NOSLEEP=1`) that validates DNS-01 against a
real BIND 9, both started as the ACME test fixtures start them, on loopback high ports:

1. infrawg: N certificate services approved at once, issued by the site's job runner (one
   worker, as `flask jobs work` runs them: each job's Pending waits honoured, TXT values placed
   by the rfc2136 provider of the hosted zone, CAA checked, chains stored), on a fresh database
   (SQLite, or the PostgreSQL server INFRAWG_TEST_DATABASE_URL names);
2. reference, same run: the same N certificates ordered one after the other by a bare client
   of the `acme` library (new order, TXT by RFC 2136 UPDATE to the same BIND, wait until served,
   answer, `poll_and_finalize`), against the same pebble.

Prints seconds and certificates per minute for 1 and for 50 certificates (BENCH_QUICK=1: 1 and
5), each with its reference.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # a script run from anywhere: find infrawg and tests

import dns.query  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.tsigkeyring  # noqa: E402
import dns.update  # noqa: E402
from acme import challenges, client, crypto_util, messages  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.serialization import (  # noqa: E402
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from flask_migrate import upgrade  # noqa: E402
from josepy import ES256, JWKEC  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from infrawg import create_app  # noqa: E402
from infrawg.extensions import db  # noqa: E402
from infrawg.governance.models import Role, RoleGrant  # noqa: E402
from infrawg.jobs import run_due_jobs  # noqa: E402
from infrawg.jobs.models import Job, JobState  # noqa: E402
from infrawg.membership.models import MembershipStatus, Person  # noqa: E402
from infrawg.provisioning.kinds.dns.models import DnsZone  # noqa: E402
from infrawg.provisioning.kinds.tls import models as tls_models  # noqa: E402
from infrawg.provisioning.models import Service, ServiceState, ServiceType  # noqa: E402
from infrawg.provisioning.service import start_provisioning  # noqa: E402
from tests.conftest import make_organisation  # noqa: E402
from tests.servers.bind import BindServer, ZoneConf  # noqa: E402
from tests.servers.live import fresh_database  # noqa: E402
from tests.servers.pebble import PebbleServer, running_pebble  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
COUNTS = (1, 5) if QUICK else (1, 50)
SITE_ZONE = "site.bench.test."
BARE_ZONE = "bare.bench.test."
CA_IDENTITY = "pebble.infrawg.test"
TIMEOUT = 600.0


def _static(origin: str) -> ZoneConf:
    text = (
        f"$ORIGIN {origin}\n$TTL 300\n"
        f"@ IN SOA ns1.{origin} hostmaster.{origin} 1 3600 600 86400 300\n"
        f"@ IN NS ns1.{origin}\nns1 IN A 127.0.0.1\n"
    )
    return ZoneConf(origin, dynamic=False, text=text)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- infrawg: the job runner ------------------------------------------------------------------


def site_setup(tmp: Path, bind: BindServer, pebble: PebbleServer, url: str):
    key = tmp / "tsig.key"
    key.write_text(bind.key_file_text)
    key.chmod(0o600)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "MAIL_BACKEND": "outbox",
            "BASE_URL": "http://localhost",
            "PROVIDERS": {
                "rfc2136": {
                    "server": bind.host,
                    "port": bind.port,
                    "tsig_key_name": bind.tsig_key_name,
                    "tsig_secret": f"file:{key}",
                    "timeout": 5,
                },
                "acme": {
                    "directory_url": pebble.directory_url,
                    "key_directory": str(tmp / "acme-keys"),
                    "ca_identities": CA_IDENTITY,
                    "contact_email": "staff@bench.test",
                    "ca_bundle": str(pebble.ca_bundle),
                    "caa_nameserver": f"{bind.host}:{bind.port}",
                },
            },
        }
    )
    with app.app_context():
        upgrade(revision="heads")
        chair = Person(
            name="Bench Chair",
            email="chair@bench.test",
            status=MembershipStatus.MEMBER,
            declared_foundation_member=True,
        )
        tenant = Person(
            name="Bench Tenant",
            email="tenant@bench.test",
            status=MembershipStatus.MEMBER,
            declared_foundation_member=True,
        )
        db.session.add_all([chair, tenant])
        db.session.flush()
        db.session.add(RoleGrant(person_id=chair.id, role=Role.CHAIR, authority="bench"))
        organisation = make_organisation("Bench WG", tenant)
        dns_type = ServiceType(name="DNS", kind="dns", provider="rfc2136", created_by_id=chair.id)
        tls_type = ServiceType(
            name="TLS certificates", kind="tls", provider="acme", created_by_id=chair.id
        )
        db.session.add_all([dns_type, tls_type])
        db.session.flush()
        zone = Service(
            organisation_id=organisation.id,
            service_type_id=dns_type.id,
            name=SITE_ZONE,
            parameters={"zone": SITE_ZONE},
            requested_by_id=tenant.id,
            state=ServiceState.ACTIVE,
        )
        db.session.add(zone)
        db.session.flush()
        db.session.add(DnsZone(service_id=zone.id, name=SITE_ZONE, adopted=True))
        db.session.commit()
        ids = (organisation.id, tls_type.id, tenant.id, chair.id)
    return app, ids


def site_issue(app, ids: tuple[int, int, int, int], label: str, n: int) -> float:
    """N certificate services approved at once; seconds until the runner has issued all."""
    organisation_id, type_id, tenant_id, chair_id = ids
    with app.app_context():
        services = []
        for i in range(n):
            name = f"{label}-{i}.{SITE_ZONE.rstrip('.')}"
            service = Service(
                organisation_id=organisation_id,
                service_type_id=type_id,
                name=name,
                parameters={"names": [name]},
                requested_by_id=tenant_id,
                decided_by_id=chair_id,
                state=ServiceState.APPROVED,
            )
            db.session.add(service)
            services.append(service)
        db.session.flush()
        for service in services:
            start_provisioning(service)
        db.session.commit()
        ids_ = [s.id for s in services]

        start = time.perf_counter()
        deadline = time.monotonic() + TIMEOUT
        while True:
            ran = run_due_jobs()
            waiting = db.session.scalar(
                select(func.count(Job.id)).where(Job.state.in_((JobState.QUEUED, JobState.RUNNING)))
            )
            if not waiting:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{waiting} job(s) still waiting after {TIMEOUT:.0f} s")
            if not ran:
                time.sleep(0.05)  # as the worker polls when nothing is due
        elapsed = time.perf_counter() - start

        for service_id in ids_:
            service = db.session.get(Service, service_id)
            assert service is not None
            db.session.refresh(service)
            current = tls_models.current_by_service_id(service_id)
            if service.state != ServiceState.ACTIVE or current is None or not current.chain_pem:
                raise RuntimeError(f"{service.name}: {service.state} {service.state_reason}")
    return elapsed


# -- reference: a bare client of the acme library -------------------------------------------


class BareClient:
    def __init__(self, bind: BindServer, pebble: PebbleServer) -> None:
        self.bind = bind
        self.keyring = dns.tsigkeyring.from_text(
            {bind.tsig_key_name: (bind.tsig_algorithm, bind.tsig_secret)}
        )
        key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        net = client.ClientNetwork(
            key,
            alg=ES256,
            verify_ssl=str(pebble.ca_bundle),  # type: ignore[arg-type]
            user_agent="bench",
        )
        directory = client.ClientV2.get_directory(pebble.directory_url, net)
        self.client = client.ClientV2(directory, net)
        self.client.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        self.key = key

    def _txt(self, owner: str, value: str, add: bool) -> None:
        update = dns.update.UpdateMessage(
            BARE_ZONE, keyring=self.keyring, keyname=self.bind.tsig_key_name
        )
        if add:
            update.add(owner, 60, "TXT", f'"{value}"')
        else:
            update.delete(owner, "TXT", f'"{value}"')
        dns.query.tcp(update, self.bind.host, port=self.bind.port, timeout=5)

    def _served(self, owner: str, value: str) -> bool:
        response = self.bind.query(owner, "TXT")
        return any(
            value == b"".join(rdata.strings).decode()
            for rrset in response.answer
            for rdata in rrset
            if rrset.rdtype == dns.rdatatype.TXT
        )

    def issue(self, name: str) -> str:
        key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        order = self.client.new_order(crypto_util.make_csr(key_pem, [name]))
        answers = []
        for authz in order.authorizations:
            (challenge,) = [
                c for c in authz.body.challenges if isinstance(c.chall, challenges.DNS01)
            ]
            response, value = challenge.response_and_validation(self.key)
            owner = challenge.chall.validation_domain_name(name) + "."
            self._txt(owner, value, add=True)
            answers.append((challenge, response, owner, value))
        for _, _, owner, value in answers:
            while not self._served(owner, value):
                time.sleep(0.05)
        for challenge, response, _, _ in answers:
            self.client.answer_challenge(challenge, response)
        done = self.client.poll_and_finalize(order, datetime.now() + timedelta(seconds=90))
        for _, _, owner, value in answers:
            self._txt(owner, value, add=False)
        return str(done.fullchain_pem)


def bare_issue(bare: BareClient, label: str, n: int) -> float:
    def run() -> None:
        for i in range(n):
            chain = bare.issue(f"{label}-{i}.{BARE_ZONE.rstrip('.')}")
            assert "BEGIN CERTIFICATE" in chain

    return timed(run)


def main() -> None:
    zones = [ZoneConf(SITE_ZONE), ZoneConf(BARE_ZONE), _static("test."), _static("bench.test.")]
    base = os.environ.get("INFRAWG_TEST_DATABASE_URL")
    rows: list[tuple[int, float, float]] = []
    with (
        tempfile.TemporaryDirectory(prefix="infrawg-bench-tls-") as d,
        BindServer(zones) as bind,
        running_pebble(f"{bind.host}:{bind.port}") as pebble,
        fresh_database(base, Path(d)) as url,
    ):
        app, ids = site_setup(Path(d), bind, pebble, url)
        bare = BareClient(bind, pebble)
        # One certificate each, untimed: account registration and connections warmed.
        site_issue(app, ids, "warm", 1)
        bare_issue(bare, "warm", 1)
        for n in COUNTS:
            ours = site_issue(app, ids, f"n{n}", n)
            theirs = bare_issue(bare, f"n{n}", n)
            rows.append((n, ours, theirs))
        with app.app_context():
            db.engine.dispose()

    engine = url.split(":", 1)[0].split("+")[0]
    print(
        f"\nTLS issuance benchmarks (pebble + BIND 9 on loopback, DNS-01; site on {engine}; "
        f"{os.cpu_count()} CPUs)\n"
    )
    header = (
        f"| {'certificates':>12} | {'infrawg job runner':>18} | {'per min':>8} "
        f"| {'bare acme client':>16} | {'per min':>8} | {'ratio':>6} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for n, ours, theirs in rows:
        print(
            f"| {n:>12} | {ours:>16.2f} s | {n * 60 / ours:>8.1f} "
            f"| {theirs:>14.2f} s | {n * 60 / theirs:>8.1f} | {ours / theirs:>5.2f}x |"
        )
    print(
        "\ninfrawg: one worker runs the jobs, honouring each job's Pending wait (2 s after the "
        "CA is asked to validate);\nbare client: one order after the other, acme's "
        "poll_and_finalize (it sleeps 1 s between polls)."
    )


if __name__ == "__main__":
    main()
