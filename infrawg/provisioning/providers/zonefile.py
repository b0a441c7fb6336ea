"""DNS zones rendered as zone files into a directory that a server (BIND, Knot, NSD) loads.

The embedded default for development and small installs. With DNSSEC on, the zone is signed
here with dnspython (ECDSAP256SHA256, a KSK and a ZSK, NSEC); the private keys are PEM files in
`key_directory` (mode 0600, outside the database) and are reused on every run, so the DS record
given to the registrar stays valid (R11).
"""

from __future__ import annotations

import calendar
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.zone
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from dns.rdtypes.ANY.DNSKEY import DNSKEY

from infrawg import timeutil
from infrawg.errors import Invalid
from infrawg.provisioning.base import Change, Check, Observed, Op, Plan, Provider, ProviderError
from infrawg.provisioning.kinds.dns.names import (
    absolute_name,
    ds_records,
    parse_rrset,
    spec_from_zone,
)
from infrawg.provisioning.kinds.dns.spec import ZoneSpec
from infrawg.provisioning.providers._dnscommon import validate_zone

ALGORITHM = dns.dnssec.Algorithm.ECDSAP256SHA256
KSK_FLAGS = 257  # ZONE | SEP: the key the parent's DS points at
ZSK_FLAGS = 256  # ZONE


@dataclass(frozen=True)
class ZonefileConfig:
    """Where zone files and signing keys live, and the SOA/signature settings."""

    directory: Path
    key_directory: Path
    soa_rname: str = "hostmaster"  # relative to the zone unless it ends in a dot
    soa_ttl: int = 3600
    soa_refresh: int = 7200
    soa_retry: int = 3600
    soa_expire: int = 1209600
    soa_minimum: int = 300
    signature_days: int = 21
    # Re-sign when the earliest signature expires sooner than this, so a job run daily keeps a
    # signed zone valid without anyone editing it.
    resign_days: int = 7
    checkzone: str = "/usr/bin/named-checkzone"
    verifier: str = "/usr/bin/dnssec-verify"


class ZonefileProvider(Provider[ZoneSpec]):
    """Zone files on disk, optionally DNSSEC-signed with dnspython."""

    kind = "dns"
    name = "zonefile"
    # zone_create: writing a new file creates the zone. It is also a DnsChallengeSolver
    # (add_txt, remove_txt, wait_for_txt below): TXT values change one by one through a plan.
    capabilities = frozenset({"dnssec", "zone_create"})
    Config = ZonefileConfig

    def __init__(self, config: ZonefileConfig) -> None:
        super().__init__(config)
        self.config: ZonefileConfig = config
        # path -> (file identity, observation). Parsing a large signed zone costs seconds and
        # apply reads before and after writing; the identity (inode, size, mtime) changes on
        # any rewrite, ours (rename) or a person's, so a hit is never stale.
        self._cache: dict[Path, tuple[tuple[int, int, int], Observed[ZoneSpec]]] = {}

    def __repr__(self) -> str:
        return f"<ZonefileProvider {self.config.directory}>"

    # -- interface ---------------------------------------------------------------------------

    def validate(self, spec: ZoneSpec) -> None:
        validate_zone(spec)

    def zone_path(self, zone: str) -> Path:
        return self.config.directory / f"{absolute_name(zone).rstrip('.') or 'root'}.zone"

    def read(self, ref: str) -> Observed[ZoneSpec]:
        zone_name = absolute_name(ref)
        path = self.zone_path(zone_name)
        try:
            st = path.stat()
        except FileNotFoundError:
            return Observed.of(zone_name, None)
        identity = (st.st_ino, st.st_size, st.st_mtime_ns)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == identity:
            return cached[1]
        try:
            zone = dns.zone.from_file(str(path), origin=zone_name, relativize=False)
        except dns.exception.DNSException as exc:
            raise ProviderError(f"{path} is not a loadable zone file: {exc}") from exc
        observed = self._observe(zone_name, zone)
        self._cache[path] = (identity, observed)
        return observed

    def _observe(self, zone_name: str, zone: dns.zone.Zone) -> Observed[ZoneSpec]:
        origin = zone.origin
        assert origin is not None
        soa = zone.get_rdataset(origin, dns.rdatatype.SOA)
        keys = zone.get_rdataset(origin, dns.rdatatype.DNSKEY)
        dnskeys = tuple(sorted(rd.to_text() for rd in keys)) if keys else ()
        expirations = [
            rd.expiration
            for node in zone.nodes.values()
            for rds in node.rdatasets
            if rds.rdtype == dns.rdatatype.RRSIG
            for rd in rds
        ]
        return Observed.of(
            zone_name,
            spec_from_zone(zone),
            serial=soa[0].serial if soa else 0,
            dnskeys=dnskeys,
            ds=tuple(ds_records(zone_name, dnskeys)) if dnskeys else (),
            signatures_expire=min(expirations) if expirations else None,
        )

    def extra_changes(self, spec: ZoneSpec, observed: Observed[ZoneSpec]) -> list[Change]:
        # Re-sign when the earliest signature expires within resign_days (the clock is the
        # site's, infrawg.timeutil, so a test can move it).
        expires = observed.detail.get("signatures_expire")
        if (
            spec.dnssec
            and observed.state is not None
            and observed.state.dnssec
            and expires is not None
            and expires < _now() + self.config.resign_days * 86400
        ):
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires))
            return [Change(Op.UPDATE, "dnssec signatures", f"expire {when}", "re-sign")]
        return []

    def execute(self, plan: Plan[ZoneSpec]) -> list[str]:
        spec = plan.spec
        if plan.destroy:
            # Signing keys stay, so re-creating the zone keeps its DS.
            path = self.zone_path(spec.zone)
            existed = path.exists()
            path.unlink(missing_ok=True)
            self._cache.pop(path, None)
            return [f"removed {path}"] if existed else []
        current = self.read(spec.zone)
        zone = self.render(spec, serial=int(current.detail.get("serial", 0)) + 1)
        log = [f"rendered {spec.zone} with {len(spec.rrsets)} RRsets"]
        if spec.dnssec:  # R11: DNSSEC on request
            keys = self.signing_keys(spec.zone)
            # Inception an hour back for clocks that lag; the clock is the site's.
            inception = _now() - 3600
            dns.dnssec.sign_zone(
                zone,
                keys=keys,
                dnskey_ttl=self.config.soa_ttl,
                inception=inception,
                expiration=inception + 3600 + self.config.signature_days * 86400,
            )
            log.append(f"signed {spec.zone} (KSK tag {dns.dnssec.key_id(keys[0][1])})")
        path = self.zone_path(spec.zone)
        self._write(path, zone)
        st = path.stat()
        self._cache[path] = (
            (st.st_ino, st.st_size, st.st_mtime_ns),
            self._observe(spec.zone, zone),
        )
        log.append(f"wrote {self.zone_path(spec.zone)}")
        return log

    def verify(self, spec: ZoneSpec) -> list[Check]:
        """Check the written file with BIND's tools, not our writer: `named-checkzone` loads it
        and dumps it canonically (compared with the spec), `dnssec-verify` checks the chain."""
        path = self.zone_path(spec.zone)
        if not path.exists():
            return [Check("zone file exists", False, f"{path} is missing")]
        checks = [Check("zone file exists", True, str(path))]
        dump = subprocess.run(  # noqa: S603 - fixed binary, arguments are ours
            [self.config.checkzone, "-q", "-D", "-o", "-", spec.zone, str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        checks.append(
            Check("named-checkzone loads it", dump.returncode == 0, dump.stderr.strip()[:500])
        )
        if dump.returncode == 0:
            served = spec_from_zone(
                dns.zone.from_text(dump.stdout, origin=spec.zone, relativize=False)
            )
            have = served.by_key()
            for rrset in spec.rrsets:
                got = have.get(rrset.key)
                ok = got == rrset
                detail = "present" if ok else ("missing" if got is None else f"is {got.values}")
                checks.append(Check(rrset.path, ok, detail))
            extra = sorted(set(have) - set(spec.by_key()))
            checks.append(
                Check("no unexpected records", not extra, ", ".join(f"{n} {t}" for n, t in extra))
            )
        if spec.dnssec:
            result = subprocess.run(  # noqa: S603
                [self.config.verifier, "-q", "-o", spec.zone, str(path)],
                capture_output=True,
                text=True,
                check=False,
            )
            detail = (result.stdout + result.stderr).strip()[-500:]
            checks.append(Check("dnssec-verify", result.returncode == 0, detail))
        return checks

    # -- DnsChallengeSolver: one TXT value at a time, through a plan --------------------------

    def add_txt(self, zone: str, name: str, value: str, ttl: int = 60) -> None:
        """Add one TXT value, keeping the other values at that name (ACME DNS-01)."""
        self._change_txt(zone, name, value, ttl, add=True)

    def remove_txt(self, zone: str, name: str, value: str) -> None:
        """Remove one TXT value; other values at that name stay."""
        self._change_txt(zone, name, value, 60, add=False)

    def wait_for_txt(self, zone: str, name: str, value: str, timeout: float = 60.0) -> bool:
        """The file is what the servers load: the value is there once it is in the file."""
        deadline = time.monotonic() + timeout
        wanted = parse_rrset(name, "TXT", 0, [value], zone)
        while True:
            state = self.read(zone).state
            found = state.get(wanted.name, "TXT") if state is not None else None
            if found is not None and wanted.values[0] in found.values:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def _change_txt(self, zone: str, name: str, value: str, ttl: int, *, add: bool) -> None:
        observed = self.read(zone)
        if observed.state is None:
            raise ProviderError(f"{zone} has no zone file; it cannot take a TXT record.")
        wanted = parse_rrset(name, "TXT", ttl, [value], zone)
        current = observed.state.get(wanted.name, "TXT")
        values = set(current.values if current else ())
        values = values | set(wanted.values) if add else values - set(wanted.values)
        rrsets = [r for r in observed.state.rrsets if r.key != wanted.key]
        if values:
            kept_ttl = current.ttl if current is not None else ttl
            rrsets.append(parse_rrset(wanted.name, "TXT", kept_ttl, sorted(values), zone))
        self.apply(self.plan(observed.state.with_rrsets(rrsets), observed))

    # -- rendering and keys --------------------------------------------------------------------

    def render(self, spec: ZoneSpec, serial: int) -> dns.zone.Zone:
        """The spec as a dnspython zone with our SOA (not yet signed)."""
        origin = dns.name.from_text(spec.zone)
        zone = dns.zone.Zone(origin, relativize=False)
        ns = spec.get(spec.zone, "NS")
        if ns is None:
            raise Invalid(f"The zone {spec.zone} needs NS records at its apex (@).")
        rname = absolute_name(self.config.soa_rname, spec.zone)
        soa = dns.rdata.from_text(
            dns.rdataclass.IN,
            dns.rdatatype.SOA,
            f"{ns.values[0]} {rname} {serial % 2**32} {self.config.soa_refresh} "
            f"{self.config.soa_retry} {self.config.soa_expire} {self.config.soa_minimum}",
        )
        with zone.writer() as txn:
            txn.add(origin, self.config.soa_ttl, soa)
            for rrset in spec.rrsets:
                name = dns.name.from_text(rrset.name)
                for value in rrset.values:
                    rdata = dns.rdata.from_text(
                        dns.rdataclass.IN, rrset.rdtype, value, origin=origin, relativize=False
                    )
                    txn.add(name, rrset.ttl, rdata)
        return zone

    def signing_keys(self, zone: str) -> list[tuple[dns.dnssec.PrivateKey, DNSKEY]]:
        """(private key, DNSKEY) for the zone's KSK then ZSK, made once and then reused."""
        directory = self.config.key_directory / absolute_name(zone).rstrip(".")
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys: list[tuple[dns.dnssec.PrivateKey, DNSKEY]] = []
        for role, flags in (("ksk", KSK_FLAGS), ("zsk", ZSK_FLAGS)):
            path = directory / f"{role}.pem"
            if path.exists():
                if path.stat().st_mode & 0o077:
                    raise ProviderError(f"{path} is open to group or others; chmod 600 it.")
                private = serialization.load_pem_private_key(path.read_bytes(), password=None)
                if not isinstance(private, ec.EllipticCurvePrivateKey):
                    raise ProviderError(f"{path} is not an ECDSA P-256 key.")
            else:
                private = ec.generate_private_key(ec.SECP256R1())
                pem = private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                # Create with 0600 from the start: never a moment where the key is readable.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
            dnskey = dns.dnssec.make_dnskey(private.public_key(), ALGORITHM, flags=flags)
            keys.append((private, dnskey))
        return keys

    def _write(self, path: Path, zone: dns.zone.Zone) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a server reloading mid-write never sees half a zone.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as fh:
                zone.to_file(fh, sorted=True, relativize=False, want_origin=True)
            os.chmod(tmp, 0o644)  # the name server (another user) must read it
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _now() -> int:
    """The site's clock (infrawg.timeutil.utcnow) as a POSIX timestamp."""
    return calendar.timegm(timeutil.utcnow().timetuple())
