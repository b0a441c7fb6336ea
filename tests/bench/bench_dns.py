"""DNS benchmarks: `python tests/bench/bench_dns.py` (not collected by pytest).

1. Plan and apply a 1,000-record zone through the rfc2136 provider against a real BIND 9
   (zone signed by BIND's dnssec-policy), beside BIND's own `nsupdate` sending the same records
   to a twin zone, and `dnssec-signzone` signing the same 1,000 records.
2. Sign a 10,000-record zone with the zonefile provider (dnspython, ECDSAP256SHA256 KSK + ZSK),
   beside `dnssec-signzone` with the same algorithm and key split, on the same zone, same run.

Each row prints the time for infrawg, the time for BIND's tool, and the ratio.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # a script run from anywhere: find infrawg and tests.servers

from infrawg.provisioning.kinds.dns.names import parse_rrset  # noqa: E402
from infrawg.provisioning.kinds.dns.spec import ZoneSpec  # noqa: E402
from infrawg.provisioning.registry import build_provider  # noqa: E402
from tests.servers.bind import BindServer, ZoneConf  # noqa: E402

SMALL = 1_000
LARGE = 10_000


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def records(zone: str, n: int) -> list:
    return [parse_rrset(f"host{i}", "A", 300, [_addr(i)], zone) for i in range(n)]


def _addr(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def zone_text(spec: ZoneSpec) -> str:
    lines = [
        f"$ORIGIN {spec.zone}",
        "$TTL 300",
        f"@ 3600 IN SOA ns1.{spec.zone} hostmaster.{spec.zone} 1 7200 3600 1209600 300",
    ]
    lines += [line for r in spec.rrsets for line in r.to_text().splitlines()]
    return "\n".join(lines) + "\n"


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)


def dnssec_signzone(spec: ZoneSpec, workdir: Path) -> float:
    """Time BIND's signer on the same zone, ECDSAP256SHA256 KSK + ZSK (keys made untimed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "zone.db"
    source.write_text(zone_text(spec))
    for extra in (["-f", "KSK"], []):
        run(
            ["/usr/bin/dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", *extra, spec.zone],
            cwd=workdir,
        )
    elapsed, _ = timed(
        lambda: run(
            [
                "/usr/bin/dnssec-signzone",
                "-q",
                "-S",
                "-K",
                str(workdir),
                "-o",
                spec.zone,
                "-f",
                str(workdir / "zone.signed"),
                str(source),
            ],
            cwd=workdir,
        )
    )
    return elapsed


def bench_rfc2136(tmp: Path) -> list[tuple[str, float, str, float]]:
    zone, twin = "bench.infrawg.test.", "twin.infrawg.test."
    rows = []
    with BindServer([ZoneConf(zone, dnssec=True), ZoneConf(twin, dnssec=True)]) as bind:
        key = tmp / "tsig.key"
        key.write_text(bind.key_file_text)
        key.chmod(0o600)
        provider = build_provider(
            "rfc2136",
            {
                "server": bind.host,
                "port": bind.port,
                "tsig_key_name": bind.tsig_key_name,
                "tsig_secret": f"file:{key}",
            },
        )
        base = [
            parse_rrset("@", "NS", 300, ["ns1"], zone),
            parse_rrset("ns1", "A", 300, ["127.0.0.1"], zone),
        ]
        spec = ZoneSpec(zone, (*base, *records(zone, SMALL)), dnssec=True)
        t_plan, plan = timed(lambda: provider.plan_for(spec))
        assert len(plan.changes) == SMALL  # type: ignore[attr-defined]
        t_apply, _ = timed(lambda: provider.apply(plan))  # type: ignore[arg-type]
        assert provider.plan_for(spec).empty

        # BIND's own client, same records, one TCP UPDATE, to the twin zone.
        script = [f"server {bind.host} {bind.port}", f"zone {twin}"]
        script += [f"update add host{i}.{twin} 300 A {_addr(i)}" for i in range(SMALL)]
        script.append("send")
        t_nsupdate, _ = timed(
            lambda: run(["/usr/bin/nsupdate", "-v", "-k", str(key)], input="\n".join(script) + "\n")
        )
        t_sign = dnssec_signzone(spec, tmp / "small")
        rows.append((f"rfc2136 plan {SMALL} records (AXFR + diff)", t_plan, "", 0.0))
        rows.append(
            (f"rfc2136 apply {SMALL} records", t_apply, "nsupdate, same records", t_nsupdate)
        )
        rows.append(
            (f"rfc2136 plan + apply {SMALL} records", t_plan + t_apply, "dnssec-signzone", t_sign)
        )
    return rows


def bench_zonefile(tmp: Path) -> list[tuple[str, float, str, float]]:
    zone = "big.infrawg.test."
    provider = build_provider(
        "zonefile", {"directory": str(tmp / "zones"), "key_directory": str(tmp / "keys")}
    )
    ns = parse_rrset("@", "NS", 3600, ["ns1.example.net."], zone)
    spec = ZoneSpec(zone, (ns, *records(zone, LARGE - 1)), dnssec=True)
    provider.signing_keys(zone)  # key generation is one-off; BIND's keygen is untimed too
    t_plan, plan = timed(lambda: provider.plan_for(spec))
    t_apply, _ = timed(lambda: provider.apply(plan))  # type: ignore[arg-type]
    t_bind = dnssec_signzone(spec, tmp / "large")
    t_bind1 = _signzone_single_thread(tmp / "large")
    return [
        (f"zonefile plan {LARGE} records", t_plan, "", 0.0),
        (f"zonefile render + sign + write {LARGE}", t_apply, "dnssec-signzone", t_bind),
        (f"zonefile render + sign + write {LARGE}", t_apply, "dnssec-signzone -n 1", t_bind1),
    ]


def _signzone_single_thread(workdir: Path) -> float:
    zone = "big.infrawg.test."
    elapsed, _ = timed(
        lambda: run(
            [
                "/usr/bin/dnssec-signzone",
                "-q",
                "-n",
                "1",
                "-S",
                "-K",
                str(workdir),
                "-o",
                zone,
                "-f",
                str(workdir / "zone.signed1"),
                str(workdir / "zone.db"),
            ],
            cwd=workdir,
        )
    )
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="infrawg-bench-") as d:
        tmp = Path(d)
        (tmp / "rfc2136").mkdir()
        rows = bench_rfc2136(tmp / "rfc2136")
        rows += bench_zonefile(tmp / "zonefile")
    print(f"DNS benchmarks ({os.cpu_count()} CPUs; BIND tools may use all of them)")
    header = f"{'infrawg':46} {'s':>8}   {'BIND tool':24} {'s':>8} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for what, ours, tool, theirs in rows:
        if tool:
            ratio = f"{ours / theirs:6.1f}x"
            print(f"{what:46} {ours:8.3f}   {tool:24} {theirs:8.3f} {ratio:>7}")
        else:
            print(f"{what:46} {ours:8.3f}")


if __name__ == "__main__":
    main()
