"""VM and backup benchmarks (R13): `python tests/bench/bench_vm.py` (not collected by pytest).

1. Provision 20 VMs on libvirt's test driver (`test:///<node file>`) through the site: each
   requested by a tenant member, approved by the chair, and made by the `provision_service`
   job the job runner runs (read, plan, define with its cloud-init seed ISO, start, write the
   node file back, verify) until every service is active; beside the libvirt provider alone
   (plan and apply, no site) and beside libvirt-python defining and starting the same domain
   XML on a fresh node file of the same driver.
2. One restic backup and one restore of 100 MB of random (incompressible) data through the
   site's restic engine (`backup --json`; the restore drill: `restore --verify` of the latest
   snapshot and the comparison with its listing), beside bare `restic backup` and
   `restic restore --verify` on the same data, each into a fresh repository.

Same run, same machine, same data for each pair. BENCH_QUICK=1: 5 VMs and 20 MB. The database
is a fresh SQLite file (or the PostgreSQL server INFRAWG_TEST_DATABASE_URL names).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # a script run from anywhere: find infrawg and tests

try:
    import libvirt
except ImportError:  # libvirt-python is the optional `vm` extra: the restic rows still run
    libvirt = None
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from infrawg import create_app  # noqa: E402
from infrawg.extensions import db  # noqa: E402
from infrawg.governance.models import Role, RoleGrant  # noqa: E402
from infrawg.jobs import run_due_jobs  # noqa: E402
from infrawg.membership.models import MembershipStatus, Person  # noqa: E402
from infrawg.provisioning import service as services  # noqa: E402
from infrawg.provisioning.demo import NODE_XML  # noqa: E402
from infrawg.provisioning.models import Service, ServiceState, ServiceType  # noqa: E402
from infrawg.provisioning.providers.restic import ResticConfig, ResticRepository  # noqa: E402
from infrawg.provisioning.secrets import resolve_secret  # noqa: E402
from tests.servers.live import fresh_database  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
VMS = 5 if QUICK else 20
MEGABYTES = 20 if QUICK else 100
PASSWORD = "bench restic password, not a secret"

Row = tuple[str, float, str, float]


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def ssh_key() -> str:
    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    return f"{public.decode()} bench@tenant.example"


def node_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(NODE_XML)
    return f"test://{path}"


def libvirt_settings(directory: Path) -> dict[str, str]:
    return {
        "uri": node_file(directory / "node.xml"),
        "disk_directory": str(directory / "disks"),
        "seed_directory": str(directory / "seeds"),
    }


def spec(i: int, key: str) -> Any:
    from infrawg.provisioning.providers.libvirt import VmSpec

    return VmSpec(
        name=f"vm{i:02d}",
        vcpus=1,
        memory_mib=1024,
        disk_gib=10,
        image="debian-12-genericcloud-amd64",
        ssh_keys=(key,),
        tenant="Bench WG",
        organisation_id=1,
        service_id=i + 1,
        domain="vms.bench.test",
    )


# -- 1. VMs ----------------------------------------------------------------------------------


def _people() -> tuple[Person, Person, object]:
    from tests.conftest import make_organisation

    made = []
    for name, email in (("Bench Chair", "chair@bench.test"), ("Bench Tenant", "tenant@bench.test")):
        person = Person(
            name=name, email=email, status=MembershipStatus.MEMBER, declared_foundation_member=True
        )
        db.session.add(person)
        made.append(person)
    db.session.flush()
    db.session.add(RoleGrant(person_id=made[0].id, role=Role.CHAIR, authority="bench"))
    organisation = make_organisation("Bench WG", made[1])
    return made[0], made[1], organisation


def through_the_site(directory: Path, key: str) -> tuple[float, float]:
    """Seconds from the first request to every VM active, and of those the jobs' seconds."""
    base = os.environ.get("INFRAWG_TEST_DATABASE_URL")
    with fresh_database(base, directory) as url:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench",
                "DATABASE_URL": url,
                "MAIL_BACKEND": "outbox",
                "BASE_URL": "http://localhost",
                "PROVIDERS": {"libvirt": libvirt_settings(directory / "site")},
                "VM_DOMAIN": "vms.bench.test",
            }
        )
        with app.app_context():
            logging.disable(logging.INFO)  # alembic's line per migration
            upgrade(revision="heads")
            logging.disable(logging.NOTSET)
            chair, tenant, organisation = _people()
            vm_type = ServiceType(
                name="Servers", kind="vm", provider="libvirt", capacity=VMS, created_by_id=chair.id
            )
            db.session.add(vm_type)
            db.session.commit()

            start = time.perf_counter()
            requested = [
                services.request_service(
                    tenant,
                    organisation,  # type: ignore[arg-type]
                    vm_type,
                    {
                        "hostname": f"vm{i:02d}",
                        "size": "small",
                        "image": "debian-12",
                        "ssh_keys": key,
                    },
                    "bench",
                )
                for i in range(VMS)
            ]
            db.session.commit()
            for service in requested:
                services.decide(chair, service, approve=True)
            db.session.commit()
            jobs_start = time.perf_counter()
            ran = run_due_jobs()
            end = time.perf_counter()
            db.session.expire_all()
            active = db.session.scalar(
                select(func.count())
                .select_from(Service)
                .where(Service.state == ServiceState.ACTIVE)
            )
            assert active == VMS, f"{active} of {VMS} active after {ran} jobs"
            db.session.remove()
            db.engine.dispose()
    conn = libvirt.openReadOnly(f"test://{directory / 'site' / 'node.xml'}")
    try:
        running = [d.name() for d in conn.listAllDomains() if d.isActive()]
    finally:
        conn.close()
    assert len(running) == VMS, running
    return end - start, end - jobs_start


def provider_alone(directory: Path, key: str) -> float:
    from infrawg.provisioning.providers.libvirt import LibvirtConfig, LibvirtProvider

    settings = libvirt_settings(directory)
    provider = LibvirtProvider(
        LibvirtConfig(
            uri=settings["uri"],
            disk_directory=Path(settings["disk_directory"]),
            seed_directory=Path(settings["seed_directory"]),
        )
    )
    start = time.perf_counter()
    for i in range(VMS):
        provider.apply(provider.plan_for(spec(i, key)))
    return time.perf_counter() - start


def bare_libvirt(directory: Path, key: str) -> float:
    """libvirt-python alone: define and start the same domain XML, on a fresh node file."""
    from infrawg.provisioning.providers.libvirt import LibvirtConfig, render_domain_xml

    config = LibvirtConfig(uri=node_file(directory / "node.xml"))
    xmls = [render_domain_xml(spec(i, key), config, domain_type="test") for i in range(VMS)]
    start = time.perf_counter()
    conn = libvirt.open(config.uri)
    try:
        for xml in xmls:
            conn.defineXML(xml).create()
        assert conn.numOfDomains() == VMS
    finally:
        conn.close()
    return time.perf_counter() - start


def bench_vms(tmp: Path) -> list[Row]:
    if libvirt is None:
        print("libvirt-python is not installed (the vm extra): no VM rows")
        return []
    key = ssh_key()
    t_site, t_jobs = through_the_site(tmp / "site-run", key)
    t_provider = provider_alone(tmp / "provider", key)
    t_bare = bare_libvirt(tmp / "bare", key)
    return [
        (f"{VMS} VMs: request, approve, jobs, active", t_site, "libvirt define + start", t_bare),
        (f"{VMS} VMs: the provision jobs alone", t_jobs, "libvirt define + start", t_bare),
        (
            f"{VMS} VMs: the provider alone (plan+apply)",
            t_provider,
            "libvirt define + start",
            t_bare,
        ),
    ]


# -- 2. restic -------------------------------------------------------------------------------


def random_tree(root: Path, megabytes: int) -> None:
    """`megabytes` MB of random bytes: ten 1 MB files a directory, incompressible."""
    for i in range(megabytes):
        folder = root / f"d{i // 10:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:03d}.bin").write_bytes(os.urandom(1024 * 1024))


def restic(repository: Path, password: Path, cache: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    env |= {
        "RESTIC_REPOSITORY": str(repository),
        "RESTIC_PASSWORD_FILE": str(password),
        "RESTIC_CACHE_DIR": str(cache),
    }
    subprocess.run(["restic", "--quiet", *args], env=env, check=True, capture_output=True)


def bench_restic(tmp: Path) -> list[Row]:
    data = tmp / "data" / "srv"
    random_tree(data, MEGABYTES)
    password = tmp / "restic.pass"
    password.write_text(PASSWORD + "\n")
    password.chmod(0o600)
    config = ResticConfig(
        repository=str(tmp / "repos" / "{organisation}"),
        password=resolve_secret(f"file:{password}"),
        cache_directory=tmp / "cache",
        scratch_directory=tmp / "scratch",
    )
    site = ResticRepository(config, 1)
    site.init_if_needed()  # untimed, as the bare `restic init` below
    t_backup, summary = timed(lambda: site.backup([data], host="bench1"))
    assert summary.total_files_processed == MEGABYTES  # type: ignore[attr-defined]
    t_restore, drill = timed(lambda: site.restore_drill(host="bench1"))
    assert drill.ok and drill.files == MEGABYTES, drill  # type: ignore[attr-defined]

    bare, cache = tmp / "repos" / "bare", tmp / "cache-bare"
    restic(bare, password, cache, "init")
    t_bare_backup, _ = timed(
        lambda: restic(bare, password, cache, "backup", "--host", "b", str(data))
    )
    target = tmp / "restored-bare"
    t_bare_restore, _ = timed(
        lambda: restic(
            bare, password, cache, "restore", "latest", "--target", str(target), "--verify"
        )
    )
    restored = sum(1 for p in target.rglob("*.bin"))
    assert restored == MEGABYTES, restored
    return [
        (f"restic backup {MEGABYTES} MB (backup --json)", t_backup, "restic backup", t_bare_backup),
        (
            f"restore drill {MEGABYTES} MB (restore + compare)",
            t_restore,
            "restic restore --verify",
            t_bare_restore,
        ),
    ]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="infrawg-bench-vm-") as d:
        tmp = Path(d)
        rows = bench_vms(tmp / "vms")
        rows += bench_restic(tmp / "restic")
    engine = (os.environ.get("INFRAWG_TEST_DATABASE_URL") or "sqlite").split(":", 1)[0]
    quick = ", BENCH_QUICK" if QUICK else ""
    if libvirt is not None:
        version = libvirt.getVersion()
        driver = f"libvirt {version // 1_000_000}.{version // 1000 % 1000}, test:/// driver"
    else:
        driver = "no libvirt-python"
    print(f"\nVM and backup benchmarks ({os.cpu_count()} CPUs, {engine}, {driver}{quick})")
    header = f"{'infrawg':46} {'s':>8}   {'reference':24} {'s':>8} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for what, ours, tool, theirs in rows:
        ratio = f"{ours / theirs:6.1f}x"
        print(f"{what:46} {ours:8.3f}   {tool:24} {theirs:8.3f} {ratio:>7}")


if __name__ == "__main__":
    main()
