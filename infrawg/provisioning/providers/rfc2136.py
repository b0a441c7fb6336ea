"""DNS hosted on an authoritative server that takes RFC 2136 dynamic updates signed with TSIG
(BIND 9, Knot, PowerDNS). Reads by AXFR, writes by UPDATE, verifies by plain queries.

The zone itself must already be configured on the server (this provider has no `zone_create`:
RFC 2136 cannot add zones). DNSSEC is the server's job (BIND's `dnssec-policy`); the provider
reads the DNSKEYs it publishes and computes the DS records for the registrar (R11).
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update
import dns.xfr
import dns.zone

from infrawg.provisioning.base import Change, Check, Observed, Op, Plan, Provider, ProviderError
from infrawg.provisioning.kinds.dns.names import (
    absolute_name,
    ds_records,
    parse_rrset,
    spec_from_zone,
)
from infrawg.provisioning.kinds.dns.spec import RRset, ZoneSpec, diff_zone
from infrawg.provisioning.providers._dnscommon import validate_zone
from infrawg.provisioning.secrets import Secret


@dataclass(frozen=True)
class Rfc2136Config:
    """Where the server is and the TSIG key it accepts updates and transfers with.

    `tsig_secret` is a secret reference; the file may hold the base64 secret alone or the key
    exactly as `tsig-keygen` prints it.
    """

    server: str
    tsig_key_name: str
    tsig_secret: Secret
    port: int = 53
    tsig_algorithm: str = "hmac-sha256"
    timeout: float = 10.0
    # One UPDATE message must fit in 64 KiB; big plans go in batches of this many RRsets.
    batch_size: int = 300


class Rfc2136Provider(Provider[ZoneSpec]):
    """DNS zone contents via RFC 2136 dynamic update with TSIG."""

    kind = "dns"
    name = "rfc2136"
    # A DnsChallengeSolver: every change adds and removes individual records, never "replace
    # the RRset", so two ACME orders' TXT values at one name sit side by side (see add_txt).
    capabilities = frozenset({"dnssec"})
    Config = Rfc2136Config

    def __init__(self, config: Rfc2136Config) -> None:
        super().__init__(config)
        self.config: Rfc2136Config = config
        secret = config.tsig_secret.reveal()
        match = re.search(r'secret\s+"([^"]+)"', secret)
        self._key = dns.tsig.Key(
            config.tsig_key_name,
            match.group(1) if match else secret,
            config.tsig_algorithm,
        )

    def __repr__(self) -> str:
        return f"<Rfc2136Provider {self.config.server}:{self.config.port}>"

    # -- interface ---------------------------------------------------------------------------

    def validate(self, spec: ZoneSpec) -> None:
        validate_zone(spec)

    def read(self, ref: str) -> Observed[ZoneSpec]:
        zone_name = absolute_name(ref)
        zone = dns.zone.Zone(zone_name, relativize=False)
        query, _ = dns.xfr.make_query(zone, serial=None, keyring=self._key, keyname=self._key.name)
        try:
            dns.query.inbound_xfr(
                self.config.server,
                zone,
                query,
                port=self.config.port,
                timeout=self.config.timeout,
                lifetime=self.config.timeout * 6,
            )
        except dns.xfr.TransferError as exc:
            if exc.rcode in (dns.rcode.NOTAUTH, dns.rcode.REFUSED):
                return Observed.of(zone_name, None, served=False, reason=str(exc))
            raise ProviderError(f"AXFR of {zone_name} failed: {exc}") from exc
        except (OSError, dns.exception.DNSException) as exc:
            raise ProviderError(
                f"AXFR of {zone_name} from {self.config.server}:{self.config.port} failed: {exc}"
            ) from exc
        origin = zone.origin
        assert origin is not None
        keys = zone.get_rdataset(origin, dns.rdatatype.DNSKEY)
        dnskeys = tuple(sorted(rd.to_text() for rd in keys)) if keys else ()
        soa = zone.get_rdataset(origin, dns.rdatatype.SOA)
        return Observed.of(
            zone_name,
            spec_from_zone(zone),
            served=True,
            serial=soa[0].serial if soa else None,
            dnskeys=dnskeys,
            ds=tuple(ds_records(zone_name, dnskeys)) if dnskeys else (),
        )

    def plan(self, spec: ZoneSpec, observed: Observed[ZoneSpec]) -> Plan[ZoneSpec]:
        warnings = []
        current = observed.state
        if current is None:
            warnings.append(
                f"{spec.zone} is not served by {self.config.server}; this provider cannot create "
                "zones. Add the zone to the server's configuration first."
            )
            changes = diff_zone(spec, None)
            changes = [c for c in changes if c.path != "dnssec"]
        else:
            # R11: signing is configured on the server (dnssec-policy), not by updates, so a
            # mismatch is reported, not planned.
            if spec.dnssec != current.dnssec:
                state = "signs" if current.dnssec else "does not sign"
                warnings.append(
                    f"The server {state} {spec.zone}; turning DNSSEC "
                    f"{'on' if spec.dnssec else 'off'} needs the server's dnssec-policy changed."
                )
            desired = ZoneSpec(spec.zone, spec.rrsets, dnssec=current.dnssec)
            changes = diff_zone(desired, current)
        return self.make_plan(spec, observed, changes, warnings)

    def execute(self, plan: Plan[ZoneSpec]) -> list[str]:
        log: list[str] = []
        changes = [c for c in plan.changes if isinstance(c.after or c.before, RRset)]
        for start in range(0, len(changes), self.config.batch_size):
            batch = changes[start : start + self.config.batch_size]
            update = self._update(plan.ref)
            for change in batch:
                _add_change(update, change)
                log.append(f"{change.op.value} {change.path}")
            self._send(update)
        return log

    def verify(self, spec: ZoneSpec) -> list[Check]:
        """Ask the server with plain (unsigned, non-TSIG) queries, the path resolvers use, and
        validate RRSIGs against the published DNSKEYs when the zone is signed."""
        checks: list[Check] = []
        soa = self._query(spec.zone, "SOA")
        served = soa is not None and soa.rcode() == dns.rcode.NOERROR and bool(soa.answer)
        checks.append(
            Check("zone served", served, f"SOA from {self.config.server}:{self.config.port}")
        )
        if not served:
            return checks
        dnskey_rrset = None
        if spec.dnssec:
            answer = self._query(spec.zone, "DNSKEY", dnssec=True)
            dnskey_rrset = _find(answer, spec.zone, "DNSKEY") if answer else None
            checks.append(
                Check(
                    "DNSKEY published",
                    dnskey_rrset is not None,
                    f"{len(dnskey_rrset) if dnskey_rrset else 0} keys",
                )
            )
        for rrset in spec.rrsets:
            checks.append(self._check_rrset(spec, rrset, dnskey_rrset))
        return checks

    def plan_destroy(self, spec: ZoneSpec, observed: Observed[ZoneSpec]) -> Plan[ZoneSpec]:
        """Delete every record this provider manages in the zone, leaving SOA, the apex NS and
        the addresses of in-zone name servers: RFC 2136 cannot remove the zone itself, and
        the server refuses to drop the records it needs to keep serving it."""
        keep = _skeleton(observed.state) if observed.state is not None else set()
        rrsets = observed.state.rrsets if observed.state is not None else ()
        changes = [Change(Op.DELETE, r.path, r, None) for r in rrsets if r.key not in keep]
        return dataclasses.replace(self.make_plan(spec, observed, changes), destroy=True)

    # -- ACME and other by-value callers -----------------------------------------------------

    def add_txt(self, zone: str, name: str, value: str, ttl: int = 60) -> None:
        """Add one TXT value, leaving any other values at that name in place (ACME DNS-01:
        the apex and wildcard challenges of one order share `_acme-challenge.<zone>`)."""
        rrset = parse_rrset(name, "TXT", ttl, [value], zone)
        update = self._update(zone)
        update.add(rrset.name, rrset.ttl, "TXT", *rrset.values)
        self._send(update)

    def remove_txt(self, zone: str, name: str, value: str) -> None:
        """Remove one TXT value; other values at that name stay."""
        rrset = parse_rrset(name, "TXT", 0, [value], zone)
        update = self._update(zone)
        update.delete(rrset.name, "TXT", *rrset.values)
        self._send(update)

    def wait_for_txt(self, zone: str, name: str, value: str, timeout: float = 60.0) -> bool:
        """Ask the server (plain queries, as resolvers do) until it answers with the value."""
        wanted = parse_rrset(name, "TXT", 0, [value], zone)
        deadline = time.monotonic() + timeout
        while True:
            found = _find(self._query(wanted.name, "TXT"), wanted.name, "TXT")
            if found is not None and wanted.values[0] in {rd.to_text() for rd in found}:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def ds(self, zone: str) -> list[str]:
        """SHA-256 DS records for the zone's published key-signing keys (R11)."""
        return list(self.read(zone).detail.get("ds", ()))

    # -- internals ---------------------------------------------------------------------------

    def _update(self, zone: str) -> dns.update.UpdateMessage:
        return dns.update.UpdateMessage(
            absolute_name(zone), keyring=self._key, keyname=self._key.name
        )

    def _send(self, update: dns.update.UpdateMessage) -> None:
        try:
            response = dns.query.tcp(
                update, self.config.server, port=self.config.port, timeout=self.config.timeout
            )
        except (OSError, dns.exception.DNSException) as exc:
            raise ProviderError(
                f"UPDATE to {self.config.server}:{self.config.port} failed: {exc}"
            ) from exc
        if response.rcode() != dns.rcode.NOERROR:
            raise ProviderError(
                f"{self.config.server} refused the update: {dns.rcode.to_text(response.rcode())}"
            )

    def _query(
        self, qname: str, rdtype: str, *, dnssec: bool = False
    ) -> dns.message.Message | None:
        query = dns.message.make_query(qname, rdtype, want_dnssec=dnssec)
        query.flags &= ~dns.flags.RD
        try:
            response = dns.query.udp(
                query, self.config.server, port=self.config.port, timeout=self.config.timeout
            )
            if response.flags & dns.flags.TC:
                response = dns.query.tcp(
                    query, self.config.server, port=self.config.port, timeout=self.config.timeout
                )
        except (OSError, dns.exception.DNSException):
            return None
        return response

    def _check_rrset(self, spec: ZoneSpec, rrset: RRset, dnskeys: dns.rrset.RRset | None) -> Check:
        response = self._query(rrset.name, rrset.rdtype, dnssec=dnskeys is not None)
        if response is None:
            return Check(rrset.path, False, "no answer from the server")
        # Below a delegation the server answers with a referral: NS in authority, glue in
        # additional. Those are still the records we published.
        found = _find(response, rrset.name, rrset.rdtype)
        if found is None:
            return Check(rrset.path, False, f"not served ({dns.rcode.to_text(response.rcode())})")
        values = tuple(sorted(rd.to_text() for rd in found))
        if values != rrset.values or found.ttl != rrset.ttl:
            return Check(rrset.path, False, f"served {found.ttl} {', '.join(values)}")
        if dnskeys is not None and _in_answer(response, rrset):
            sigs = response.find_rrset(
                response.answer,
                dns.name.from_text(rrset.name),
                dns.rdataclass.IN,
                dns.rdatatype.RRSIG,
                dns.rdatatype.from_text(rrset.rdtype),
                create=True,
            )
            try:
                dns.dnssec.validate(found, sigs, {dns.name.from_text(spec.zone): dnskeys})
            except dns.dnssec.ValidationFailure as exc:
                return Check(rrset.path, False, f"served, but its signature fails: {exc}")
            return Check(rrset.path, True, "served and signature valid")
        return Check(rrset.path, True, "served")


def _find(response: dns.message.Message | None, name: str, rdtype: str) -> dns.rrset.RRset | None:
    if response is None:
        return None
    owner = dns.name.from_text(name)
    type_ = dns.rdatatype.from_text(rdtype)
    for section in (response.answer, response.authority, response.additional):
        for rrset in section:
            if rrset.name == owner and rrset.rdtype == type_:
                return rrset
    return None


def _in_answer(response: dns.message.Message, rrset: RRset) -> bool:
    owner = dns.name.from_text(rrset.name)
    type_ = dns.rdatatype.from_text(rrset.rdtype)
    return any(r.name == owner and r.rdtype == type_ for r in response.answer)


def _add_change(update: dns.update.UpdateMessage, change: Change) -> None:
    """Translate one change into record-level UPDATE operations (RFC 2136 section 2.5)."""
    before: RRset | None = change.before
    after: RRset | None = change.after
    if after is None:
        assert before is not None
        # By value, so a value someone added since the plan (an ACME token) survives.
        update.delete(before.name, before.rdtype, *before.values)
        return
    old = set(before.values) if before else set()
    removed = [v for v in (before.values if before else ()) if v not in after.values]
    if removed:
        update.delete(after.name, after.rdtype, *removed)
    if before is not None and before.ttl != after.ttl:
        # Adding a record with a new TTL sets the TTL of the whole RRset (RFC 2136 3.4.2.2).
        update.add(after.name, after.ttl, after.rdtype, *after.values)
    else:
        added = [v for v in after.values if v not in old]
        if added:
            update.add(after.name, after.ttl, after.rdtype, *added)


def _skeleton(state: ZoneSpec) -> set[tuple[str, str]]:
    keep = {(state.zone, "NS")}
    ns = state.get(state.zone, "NS")
    for target in ns.values if ns else ():
        keep |= {(target.lower(), "A"), (target.lower(), "AAAA")}
    return keep
