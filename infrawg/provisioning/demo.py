"""Demo data of the service layer (`make run`), for the first demo tenant organisation:

- a DNS service type on the zonefile provider (files under instance/zones, so `make run` needs
  no DNS server) and a zone requested;
- a server (VM) service type on libvirt's test driver (`test:///<instance>/libvirt/node.xml`, a
  simulated hypervisor: no real machine boots), with one server requested for the chair to
  approve and one the chair approved, made active at load by its provisioning job (the job
  runner, not a shortcut: domain defined and started, cloud-init seed written);
- an application service type on the cookbook_dir provider (a git repository under
  instance/chef-repo), with an application the tenant described: version 1, checked, waiting
  for staff's review.

The VM part needs libvirt-python (the optional `vm` extra) and a configured provider of kind
`vm`; the application part a provider of kind `app`; without them that part is skipped with a
line saying so. `make run` configures both through `python -m infrawg.provisioning.demo
<instance>` (`write_settings`), which writes the files its INFRAWG_PROVIDERS and
INFRAWG_VM_BACKUP name before the site starts: everything stays inside the instance folder.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from flask import current_app
from sqlalchemy import select

from infrawg import audit
from infrawg.actions import Action
from infrawg.errors import DomainError
from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.jobs.models import Job
from infrawg.membership.models import Person
from infrawg.provisioning import service as services
from infrawg.provisioning.base import ProviderError
from infrawg.provisioning.models import Service, ServiceState, ServiceType

# A hypervisor with nothing defined yet: what libvirt's test driver loads for test:///<file>.
NODE_XML = """<node>
  <cpu><mhz>2400</mhz><model>x86_64</model><active>8</active><nodes>1</nodes>
    <sockets>1</sockets><cores>8</cores><threads>1</threads></cpu>
  <memory>16777216</memory>
</node>
"""
PROVIDERS_FILE = "demo-providers.json"
PROVIDERS_FILE_OF_CA = "providers.json"  # what `make run-ca` writes into instance/ca/
VM_TYPE_NAME = "Servers (libvirt test driver: simulated, no real machine)"
VM_TYPE_DESCRIPTION = (
    "A Debian server with root for your organisation's keys, backed up daily. In this demo the "
    "provider is libvirt's test driver: servers are defined and started in a simulated "
    "hypervisor (a node file in the instance folder); no real machine boots and nothing "
    "answers on SSH."
)
REQUESTED_VM = "build1"  # left for the chair to approve
ACTIVE_VM = "web1"  # approved at load, made by the provisioning job
APP_COOKBOOK = "docs_site"
APP_FIELDS = {
    "description": "The working group's documentation site",
    "packages": "nginx\npython3",
    "command": "/usr/bin/python3 -m http.server 8080 --directory /srv/docs",
    "user": "www-data",
    "ports": "8080",
    "template_path": "/etc/docs/docs.conf",
    "template_content": "port = <%= @port %>\ntitle = <%= @title %>\n",
    "attributes": "port=8080\ntitle=Packaging WG documentation",
}


def load_demo(people: dict[str, Person]) -> None:
    chair = db.session.scalar(
        select(Person)
        .join(RoleGrant, RoleGrant.person_id == Person.id)
        .where(RoleGrant.role == Role.CHAIR, RoleGrant.ended_at.is_(None))
    )
    dns_type = _service_type(
        chair,
        name="DNS hosting",
        kind="dns",
        provider=_provider_of_kind("dns") or "zonefile",
        description="A hosted DNS zone, DNSSEC-signed on request.",
        capacity=20,
    )
    tenant = _first_tenant()
    _request_a_zone(dns_type, tenant)
    _certificates(chair)
    if chair is not None:
        _servers(chair, tenant)
        _application(chair, tenant)


def _service_type(chair: Person | None, **fields: Any) -> ServiceType:
    """A service type of the catalogue, added by the chair (audited as the chair would be)."""
    service_type = ServiceType(**fields, created_by_id=chair.id if chair else None)
    db.session.add(service_type)
    db.session.flush()
    audit.record(chair, Action.SERVICE_TYPE_ADDED, service_type, "demo data")
    return service_type


def _provider_of_kind(kind: str) -> str | None:
    for name in services.provider_settings():
        try:
            if services.provider_kind(name) == kind:
                return name
        except Exception:  # noqa: S112 - a misconfigured provider is skipped in demo data
            continue
    return None


def _first_tenant() -> tuple[Person, Any] | None:
    """The first tenant member of the first eligible organisation, with the organisation."""
    try:
        from infrawg.tenants.models import TenantMember, TenantOrganisation
    except ImportError:  # pragma: no cover - the tenants area is not installed
        return None
    member = db.session.scalar(
        select(TenantMember)
        .join(TenantOrganisation, TenantOrganisation.id == TenantMember.organisation_id)
        .where(TenantMember.ended_at.is_(None))
        .order_by(TenantOrganisation.id, TenantMember.id)
    )
    if member is None:
        return None
    organisation = db.session.get(TenantOrganisation, member.organisation_id)
    person = db.session.get(Person, member.person_id)
    if organisation is None or person is None or services.ineligibility(organisation):
        return None
    return person, organisation


def _request_a_zone(dns_type: ServiceType, tenant: tuple[Person, Any] | None) -> None:
    if tenant is None:
        return
    person, organisation = tenant
    zone = f"{organisation.slug}.example.org"
    services.request_service(
        person, organisation, dns_type, {"zone": zone, "dnssec": True}, "demo data"
    )


def _certificates(chair: Person | None) -> None:
    """A TLS service type when an ACME provider is configured (`make run-ca`'s pebble)."""
    provider = _provider_of_kind("tls")
    if provider is None:
        click.echo("Demo data: no certificate type (no ACME provider; see make run-ca).")
        return
    _service_type(
        chair,
        name="TLS certificates (ACME)",
        kind="tls",
        provider=provider,
        description=(
            "A certificate for names in a zone hosted here (DNS-01 by the site) or elsewhere "
            "(after your approval, by CNAME or TXT). In this demo the CA is make run-ca's "
            "local pebble: its certificates are trusted by nothing else."
        ),
        capacity=20,
    )
    click.echo(f"Demo data: certificates on the ACME provider {provider} (make run-ca).")


# -- servers (R13) ---------------------------------------------------------------------------


def libvirt_installed() -> bool:
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return False
    return True


def _servers(chair: Person, tenant: tuple[Person, Any] | None) -> None:
    provider = _provider_of_kind("vm")
    uri = str(services.provider_settings()[provider].get("uri", "")) if provider else ""
    why = ""
    if provider is None:
        why = (
            "no provider of kind vm is configured (INFRAWG_PROVIDERS)"
            if libvirt_installed()
            else "libvirt-python is not installed (the optional vm extra)"
        )
    elif not uri.startswith("test:///") or uri == "test:///default":
        # Demo data makes servers on the simulated hypervisor only, never on a real one.
        why = f"the provider {provider} is not on libvirt's test driver (test:///<node file>)"
    if why or tenant is None:
        click.echo(f"Demo data: no servers ({why or 'no eligible tenant organisation'}).")
        return
    assert provider is not None
    person, organisation = tenant
    _fresh_test_node(uri)
    vm_type = _service_type(
        chair,
        name=VM_TYPE_NAME,
        kind="vm",
        provider=provider,
        description=VM_TYPE_DESCRIPTION,
        capacity=5,
    )
    keys = "\n".join(_public_key(f"{person.email.split('@')[0]}@{name}") for name in ("a", "b"))
    wanted = [
        (REQUESTED_VM, "small", "A build machine for the working group's packages"),
        (ACTIVE_VM, "medium", "The working group's documentation site"),
    ]
    made = {
        hostname: services.request_service(
            person,
            organisation,
            vm_type,
            {"hostname": hostname, "size": size, "image": "debian-12", "ssh_keys": keys},
            purpose,
        )
        for hostname, size, purpose in wanted
    }
    active = made[ACTIVE_VM]
    services.decide(chair, active, approve=True, reason="Within the working group's plan.")
    _export_stand_in(active.name)
    state = _run_provisioning(active)
    click.echo(
        f"Demo data: servers on libvirt's test driver: {REQUESTED_VM} requested (the chair "
        f"decides), {ACTIVE_VM} {state}."
    )


def _public_key(comment: str) -> str:
    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    return f"{public.decode()} {comment}"


def _fresh_test_node(uri: str) -> None:
    """A fresh demo database gets a fresh simulated hypervisor: the test driver's node file is
    written empty."""
    node = Path(uri.removeprefix("test://"))
    node.parent.mkdir(parents=True, exist_ok=True)
    node.write_text(NODE_XML)


def _export_stand_in(hostname: str) -> None:
    """What the daily backup reads for the server (`<source_directory>/<hostname>/<path>`, the
    hypervisor's export of the guest, which is not built): a few files standing in for it, when
    INFRAWG_VM_BACKUP names a source directory."""
    raw = current_app.config.get("VM_BACKUP")
    try:
        settings = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    except ValueError:
        return
    source = settings.get("source_directory")
    if not source:
        return
    root = Path(source) / hostname
    for path, text in (
        ("etc/hostname", f"{hostname}\n"),
        ("srv/docs/index.html", "<!doctype html><title>Packaging WG docs</title>\n"),
    ):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def _run_provisioning(service: Service) -> str:
    """Run the service's provisioning job now, as a worker would; the service's state after it.
    The job runner works on committed rows, so the demo so far is committed first."""
    from infrawg.jobs import runner
    from infrawg.provisioning.lifecycle import PROVISION_JOB

    service_id = service.id
    db.session.commit()
    job_id = db.session.scalar(
        select(Job.id).where(
            Job.kind == PROVISION_JOB,
            Job.subject_type == Service.__tablename__,
            Job.subject_id == service_id,
        )
    )
    attempt = runner.claim_attempt(job_id) if job_id is not None else None
    if job_id is None or attempt is None:
        return "approved (its provisioning job is queued)"
    runner.run_job(job_id, attempt)
    done = db.session.get(Service, service_id)
    if done is None or done.state != ServiceState.ACTIVE:
        reason = f": {done.state_reason}" if done is not None and done.state_reason else ""
        job = db.session.get(Job, job_id)
        error = f" ({job.last_error})" if job is not None and job.last_error else ""
        return f"approved, not active yet{reason}{error}; see /jobs"
    return "approved and active"


# -- applications (R14) ----------------------------------------------------------------------


def _application(chair: Person, tenant: tuple[Person, Any] | None) -> None:
    from infrawg.provisioning.kinds.app import versions

    provider = _provider_of_kind("app")
    if provider is None or tenant is None:
        click.echo("Demo data: no application (no provider of kind app is configured).")
        return
    person, organisation = tenant
    app_type = _service_type(
        chair,
        name="Application hosting (Chef cookbook)",
        kind="app",
        provider=provider,
        description=(
            "Describe your application; the site writes a Chef cookbook from it, staff review "
            "each version, and an approved version is published to the operators' Chef "
            "repository. Converging runs in the operators' Chef, not in this site."
        ),
        capacity=10,
    )
    service = services.request_service(
        person,
        organisation,
        app_type,
        {"cookbook": APP_COOKBOOK, "vm": ACTIVE_VM},
        "The documentation site on our server",
    )
    services.decide(chair, service, approve=True)
    state = _run_provisioning(service)  # no version yet: the job has nothing to publish
    service = db.session.get(Service, service.id) or service
    if service.state != ServiceState.ACTIVE:
        click.echo(f"Demo data: application {APP_COOKBOOK} {state}.")
        return
    person = db.session.get(Person, person.id) or person
    try:
        version = versions.save_version(person, service, APP_FIELDS)
    except (ProviderError, DomainError) as exc:  # ruby or rubocop missing: no checks, no version
        click.echo(f"Demo data: application {APP_COOKBOOK} without a version ({exc}).")
        return
    versions.submit_version(person, service, version.number)
    click.echo(
        f"Demo data: application {APP_COOKBOOK}: version {version.number} waits for staff's "
        f"review ({version.failed} failed check(s))."
    )


# -- the settings `make run` gives the site ----------------------------------------------------


def write_settings(instance: Path) -> dict[str, Any]:
    """Write what `make run`'s INFRAWG_PROVIDERS and INFRAWG_VM_BACKUP name, inside `instance`:
    the providers file (zonefile as unset, cookbook_dir, libvirt on the test driver when
    libvirt-python is installed, and acme on `make run-ca`'s pebble when it wrote its
    settings), the test driver's node file and the restic password (each only when missing).
    Returns the providers written."""
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    providers: dict[str, Any] = {
        "zonefile": {
            "directory": str(instance / "zones"),
            "key_directory": str(instance / "zone-keys"),
        },
        "cookbook_dir": {"directory": str(instance / "chef-repo")},
    }
    if libvirt_installed():
        node = instance / "libvirt" / "node.xml"
        node.parent.mkdir(mode=0o700, exist_ok=True)
        if not node.exists():
            node.write_text(NODE_XML)
        providers["libvirt"] = {
            "uri": f"test://{node}",
            "disk_directory": str(instance / "libvirt" / "disks"),
            "seed_directory": str(instance / "libvirt" / "seeds"),
        }
    ca = instance / "ca" / PROVIDERS_FILE_OF_CA
    if ca.is_file():
        # `make run-ca` runs (or ran): its local pebble is the demo's ACME provider.
        acme = json.loads(ca.read_text()).get("acme")
        if acme:
            providers["acme"] = acme
    password = instance / "restic.pass"
    if not password.exists():
        fd = os.open(password, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
    target = instance / PROVIDERS_FILE
    target.write_text(json.dumps(providers, indent=2) + "\n")
    return providers


if __name__ == "__main__":
    written = write_settings(Path(sys.argv[1] if len(sys.argv) > 1 else "instance").resolve())
    print(f"Demo providers: {', '.join(written)} (instance/{PROVIDERS_FILE})")
