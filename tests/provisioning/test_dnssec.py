"""DNSSEC checked by tools that are not ours (R11): BIND's `dnssec-verify` and
`dnssec-dsfromkey` on the zonefile provider's output, `delv` validating BIND's answers for the
rfc2136 provider from a trust anchor taken from the zone."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import dns.rdatatype
import pytest

from infrawg.provisioning.kinds.dns.names import ds_records, parse_rrset
from infrawg.provisioning.kinds.dns.spec import ZoneSpec
from infrawg.provisioning.registry import build_provider
from tests.servers.bind import BindServer

ZONE = "signed.example."


def _spec(*extra: tuple[str, str, list[str]], dnssec: bool = True) -> ZoneSpec:
    rrsets = [
        parse_rrset("@", "NS", 3600, ["ns1.example.net.", "ns2.example.net."], ZONE),
        parse_rrset("www", "A", 300, ["192.0.2.1"], ZONE),
        parse_rrset("*.apps", "CNAME", 300, ["www"], ZONE),
        parse_rrset("@", "MX", 300, ["10 mx.example.net."], ZONE),
    ]
    rrsets += [parse_rrset(n, t, 300, v, ZONE) for n, t, v in extra]
    return ZoneSpec(ZONE, tuple(rrsets), dnssec=dnssec)


@pytest.fixture
def zonefile(tmp_path: Path):
    return build_provider(
        "zonefile", {"directory": str(tmp_path / "zones"), "key_directory": str(tmp_path / "keys")}
    )


def _dnssec_verify(path: Path, zone: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/usr/bin/dnssec-verify", "-o", zone, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_r11_zonefile_output_passes_dnssec_verify_with_ksk_and_zsk(zonefile, tmp_path) -> None:
    zonefile.apply(zonefile.plan_for(_spec()))
    path = zonefile.zone_path(ZONE)
    result = _dnssec_verify(path, ZONE)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "ECDSAP256SHA256" in out
    # One KSK (flags 257) and one ZSK (256): the split the issue asks for.
    observed = zonefile.read(ZONE)
    flags = sorted(int(k.split()[0]) for k in observed.detail["dnskeys"])
    assert flags == [256, 257]
    # Private keys live outside the zone directory, readable by the owner only.
    for pem in (tmp_path / "keys" / "signed.example").glob("*.pem"):
        assert pem.stat().st_mode & 0o077 == 0


def test_r11_zonefile_keys_are_reused_so_the_ds_stays_valid(zonefile) -> None:
    zonefile.apply(zonefile.plan_for(_spec()))
    first = zonefile.read(ZONE).detail["ds"]
    zonefile.apply(zonefile.plan_for(_spec(("new", "A", ["192.0.2.9"]))))
    second = zonefile.read(ZONE)
    assert second.detail["ds"] == first
    assert _dnssec_verify(zonefile.zone_path(ZONE), ZONE).returncode == 0


def test_r11_ds_matches_bind_dnssec_dsfromkey(zonefile) -> None:
    zonefile.apply(zonefile.plan_for(_spec()))
    ours = zonefile.read(ZONE).detail["ds"]
    out = subprocess.run(
        ["/usr/bin/dnssec-dsfromkey", "-2", "-f", str(zonefile.zone_path(ZONE)), ZONE],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # BIND prints "signed.example. IN DS <tag> 13 2 <HEX>" for the KSK only.
    theirs = [" ".join(line.split()[3:]) for line in out.splitlines() if " DS " in line]
    assert len(theirs) == 1
    assert [d.upper() for d in ours] == [d.upper() for d in theirs]


def test_turning_dnssec_off_renders_an_unsigned_zone(zonefile) -> None:
    zonefile.apply(zonefile.plan_for(_spec()))
    plan = zonefile.plan_for(_spec(dnssec=False))
    assert [c.path for c in plan.changes] == ["dnssec"]
    zonefile.apply(plan)
    text = zonefile.zone_path(ZONE).read_text()
    assert "RRSIG" not in text and "DNSKEY" not in text
    assert all(c.ok for c in zonefile.verify(_spec(dnssec=False)))


def test_zonefile_verify_catches_a_tampered_signature(zonefile) -> None:
    zonefile.apply(zonefile.plan_for(_spec()))
    path = zonefile.zone_path(ZONE)
    # Change the address behind the signer's back: the RRSIG no longer matches.
    path.write_text(path.read_text().replace("192.0.2.1", "192.0.2.66"))
    checks = {c.name: c for c in zonefile.verify(_spec())}
    assert not checks["dnssec-verify"].ok
    assert not checks[f"www.{ZONE} A"].ok


# -- rfc2136: BIND signs (dnssec-policy); delv validates what it serves ----------------------------


def _anchor_file(bind: BindServer, zone: str, path: Path) -> Path:
    keys = bind.query(zone, "DNSKEY").answer[0]
    assert keys.rdtype == dns.rdatatype.DNSKEY
    lines = [
        f'  "{zone}" static-key {k.flags} {k.protocol} {k.algorithm} '
        f'"{base64.b64encode(k.key).decode()}";'
        for k in keys
        if k.flags & 1  # SEP: the key a parent's DS would point at
    ]
    path.write_text("trust-anchors {\n" + "\n".join(lines) + "\n};\n")
    return path


def _delv(bind: BindServer, anchors: Path, zone: str, qname: str, rdtype: str) -> str:
    result = subprocess.run(
        [
            "/usr/bin/delv",
            f"@{bind.host}",
            "-p",
            str(bind.port),
            "-a",
            str(anchors),
            f"+root={zone}",
            qname,
            rdtype,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return result.stdout + result.stderr


def test_r11_rfc2136_records_validate_with_delv_from_the_zone_trust_anchor(
    bind: BindServer, bind_zone, rfc2136_config, tmp_path: Path
) -> None:
    zone = bind_zone()
    provider = build_provider("rfc2136", rfc2136_config)
    spec = ZoneSpec(
        zone,
        (
            parse_rrset("@", "NS", 300, ["ns1"], zone),
            parse_rrset("ns1", "A", 300, ["127.0.0.1"], zone),
            parse_rrset("www", "A", 300, ["192.0.2.7"], zone),
            parse_rrset("@", "TXT", 300, ['"hello"'], zone),
        ),
        dnssec=True,
    )
    provider.apply(provider.plan_for(spec))
    anchors = _anchor_file(bind, zone, tmp_path / "anchors.conf")
    out = _delv(bind, anchors, zone, f"www.{zone}", "A")
    assert "; fully validated" in out, out
    assert "192.0.2.7" in out
    assert "; fully validated" in _delv(bind, anchors, zone, zone, "TXT")
    # Our own verify validates the RRSIGs with dnspython too.
    checks = {c.name: c for c in provider.verify(spec)}
    assert checks[f"www.{zone} A"].ok and "signature valid" in checks[f"www.{zone} A"].detail


def test_r11_rfc2136_ds_matches_bind_dnssec_dsfromkey(
    bind: BindServer, bind_zone, rfc2136_config, tmp_path: Path
) -> None:
    zone = bind_zone()
    provider = build_provider("rfc2136", rfc2136_config)
    keyfile = tmp_path / "dnskey.txt"
    keys = bind.query(zone, "DNSKEY").answer[0]
    keyfile.write_text("".join(f"{zone} 300 IN DNSKEY {k.to_text()}\n" for k in keys))
    out = subprocess.run(
        ["/usr/bin/dnssec-dsfromkey", "-2", "-f", str(keyfile), zone],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    theirs = [" ".join(line.split()[3:]).upper() for line in out.splitlines() if " DS " in line]
    assert [d.upper() for d in provider.ds(zone)] == theirs
    assert ds_records(zone, [k.to_text() for k in keys]) == provider.ds(zone)


def test_r11_signatures_near_expiry_are_planned_as_a_resign(tmp_path: Path) -> None:
    provider = build_provider(
        "zonefile",
        {
            "directory": str(tmp_path / "zones"),
            "key_directory": str(tmp_path / "keys"),
            "signature_days": 3,  # shorter than the re-sign window: due at once
            "resign_days": 7,
        },
    )
    provider.apply(provider.plan_for(_spec()))
    plan = provider.plan_for(_spec())
    assert [c.path for c in plan.changes] == ["dnssec signatures"]
    assert "re-sign" in plan.render()
    serial = provider.read(ZONE).detail["serial"]
    provider.apply(plan)
    assert provider.read(ZONE).detail["serial"] == serial + 1
    assert _dnssec_verify(provider.zone_path(ZONE), ZONE).returncode == 0
