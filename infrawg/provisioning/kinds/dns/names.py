"""DNS helpers shared by the DNS providers and the UI: record parsing, DS records, and the
delegation check that tells a tenant what to set at their registrar (R11)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

from infrawg.errors import Invalid
from infrawg.provisioning.kinds.dns.spec import RRset, ZoneSpec

# Records the signer (BIND's dnssec-policy, or our zonefile signer) owns. They are never part of
# a ZoneSpec: editing them by hand breaks the chain of trust.
DNSSEC_TYPES = frozenset({"DNSKEY", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "CDS", "CDNSKEY"})
# SOA is owned by the provider/server (serials move on every change); TYPE65534 is BIND's
# private signing-state record.
SERVER_OWNED_TYPES = DNSSEC_TYPES | {"SOA", "TYPE65534"}
MAX_TTL = 2**31 - 1


def absolute_name(name: str, zone: str | None = None) -> str:
    """`www` -> `www.example.org.`, `@` -> the zone; lower case, trailing dot. Raises Invalid."""
    text = (name or "").strip()  # a form posted without the field gives None
    if not text:
        raise Invalid("A record needs a name (use @ for the zone itself).")
    try:
        origin = dns.name.from_text(zone) if zone else dns.name.root
        parsed = origin if text == "@" else dns.name.from_text(text, origin=origin)
    except (dns.exception.DNSException, ValueError) as exc:
        # ValueError includes the IDNA codec's UnicodeError for a label it cannot encode.
        raise Invalid(f"{name!r} is not a valid DNS name: {exc}") from exc
    if zone and not parsed.is_subdomain(origin):
        raise Invalid(f"{parsed} is outside the zone {origin}.")
    return parsed.to_text().lower()


def parse_rrset(
    name: str,
    rdtype: str,
    ttl: int | str,
    values: Iterable[str],
    zone: str | None = None,
) -> RRset:
    """Validate and canonicalise one RRset through dnspython's own parser.

    Names in values are made absolute relative to `zone`; values are sorted and de-duplicated.
    A bad record raises `Invalid` carrying the parser's message, ready to show beside the field.
    """
    owner = absolute_name(name, zone)
    try:
        type_ = dns.rdatatype.from_text((rdtype or "").strip().upper())
    except (dns.exception.DNSException, ValueError) as exc:
        raise Invalid(f"{rdtype!r} is not a DNS record type: {exc}") from exc
    type_text = dns.rdatatype.to_text(type_)
    if type_text in SERVER_OWNED_TYPES:
        raise Invalid(f"{type_text} records are managed by the server and cannot be edited.")
    if dns.rdatatype.is_metatype(type_):
        raise Invalid(f"{type_text} is a query type, not a record type.")
    try:
        ttl_value = int(ttl)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"TTL must be a whole number of seconds, not {ttl!r}.") from exc
    if not 0 <= ttl_value <= MAX_TTL:
        raise Invalid(f"TTL must be between 0 and {MAX_TTL} seconds.")
    origin = dns.name.from_text(zone) if zone else dns.name.root
    parsed = []
    for value in values:
        if not str(value).strip():
            continue
        try:
            rdata = dns.rdata.from_text(
                dns.rdataclass.IN, type_, str(value), origin=origin, relativize=False
            )
        except dns.exception.SyntaxError as exc:
            raise Invalid(f"{owner} {type_text} {value!r}: {exc}") from exc
        except (dns.exception.DNSException, ValueError) as exc:
            raise Invalid(f"{owner} {type_text} {value!r}: {exc}") from exc
        parsed.append(rdata.to_text())
    if not parsed:
        raise Invalid(f"{owner} {type_text} needs at least one value.")
    if type_text == "CNAME" and len(set(parsed)) > 1:
        raise Invalid(f"{owner} CNAME may have only one value.")
    return RRset(owner, type_text, ttl_value, tuple(sorted(set(parsed))))


def rrset_from_dnspython(
    rrset: dns.rrset.RRset | dns.rdataset.Rdataset,
    name: str,
    origin: dns.name.Name | None = None,
) -> RRset:
    """Our RRset from a dnspython rdataset/rrset; names in values made absolute against
    `origin` (a zone kept relativized stores them relative)."""
    values = tuple(sorted({rd.to_text(origin=origin, relativize=False) for rd in rrset}))
    return RRset(name.lower(), dns.rdatatype.to_text(rrset.rdtype), rrset.ttl, values)


def spec_from_zone(zone: dns.zone.Zone, *, dnssec: bool | None = None) -> ZoneSpec:
    """The managed part of a dnspython zone as a ZoneSpec (server-owned records left out)."""
    origin = zone.origin
    assert origin is not None
    rrsets = []
    has_dnskey = False
    for name, node in zone.nodes.items():
        owner = name.derelativize(origin).to_text().lower()
        for rdataset in node.rdatasets:
            type_text = dns.rdatatype.to_text(rdataset.rdtype)
            if type_text == "DNSKEY" and owner == origin.to_text().lower():
                has_dnskey = True
            if type_text in SERVER_OWNED_TYPES:
                continue
            rrsets.append(rrset_from_dnspython(rdataset, owner, origin))
    return ZoneSpec(
        zone=origin.to_text(),
        rrsets=tuple(rrsets),
        dnssec=has_dnskey if dnssec is None else dnssec,
    )


def _dnskey(value: str | dns.rdata.Rdata) -> dns.rdata.Rdata:
    if isinstance(value, dns.rdata.Rdata):
        return value
    try:
        return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, value)
    except dns.exception.DNSException as exc:
        raise Invalid(f"Not a DNSKEY record: {value!r}: {exc}") from exc


def ds_records(zone: str, dnskeys: Iterable[str | dns.rdata.Rdata]) -> list[str]:
    """SHA-256 DS records (text) for the zone's key-signing keys, the ones a registrar needs.

    Keys with the SEP flag (257: KSK or CSK) are the ones the parent points at; when none has
    it, every key is used.
    """
    keys = [_dnskey(k) for k in dnskeys]
    # R11: the tenant gives these to their registrar; SHA-256 only (SHA-1 DS is deprecated).
    sep = [k for k in keys if k.flags & dns.dnssec.Flag.SEP]  # type: ignore[attr-defined]
    return sorted(dns.dnssec.make_ds(zone, k, "SHA256").to_text() for k in (sep or keys))


def _canonical_ds(values: Iterable[str]) -> set[str]:
    out = set()
    for v in values:
        try:
            out.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, v).to_text())
        except dns.exception.DNSException as exc:
            raise Invalid(f"Not a DS record: {v!r}: {exc}") from exc
    return out


@dataclass(frozen=True)
class DelegationResult:
    """What the parent zone says about a zone, against what it should say, and the fixes."""

    zone: str
    parent_ns: tuple[str, ...]
    expected_ns: tuple[str, ...]
    parent_ds: tuple[str, ...]
    expected_ds: tuple[str, ...]
    ns_ok: bool
    ds_ok: bool
    fixes: tuple[str, ...]
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.ns_ok and self.ds_ok and not self.errors


def _ask_parent(
    zone: dns.name.Name, rdtype: str, server: str, port: int, timeout: float
) -> tuple[set[str], str | None]:
    query = dns.message.make_query(zone, rdtype)
    # Iterative question: we want the parent's own data (its referral), not a resolver's view.
    query.flags &= ~dns.flags.RD
    try:
        response = dns.query.udp(query, server, port=port, timeout=timeout)
        if response.flags & dns.flags.TC:
            response = dns.query.tcp(query, server, port=port, timeout=timeout)
    except (OSError, dns.exception.DNSException) as exc:
        return set(), f"{server}:{port} did not answer the {rdtype} question: {exc}"
    want = dns.rdatatype.from_text(rdtype)
    found: set[str] = set()
    # A referral carries NS in the authority section; DS (and NS from a parent that also serves
    # the child) come in the answer section.
    for section in (response.answer, response.authority):
        for rrset in section:
            if rrset.name == zone and rrset.rdtype == want:
                found |= {rd.to_text().lower() for rd in rrset}
    return found, None


def delegation_check(
    zone: str,
    parent_nameservers: Sequence[str],
    expected_ns: Iterable[str],
    expected_ds: Iterable[str] = (),
    *,
    port: int = 53,
    timeout: float = 5.0,
) -> DelegationResult:
    """Ask each of the parent zone's name servers (IP addresses) for the zone's NS and DS, and
    compare with what the zone should have (R11).

    `expected_ds` empty means the zone is unsigned, so the parent must hold no DS (a stale DS
    makes validating resolvers reject the zone). The fixes are sentences to show the tenant.
    """
    # R11: the domain may be registered elsewhere; the site checks the delegation.
    name = dns.name.from_text(zone)
    zone_text = name.to_text().lower()
    want_ns = {absolute_name(ns) for ns in expected_ns}
    want_ds = _canonical_ds(expected_ds)
    errors: list[str] = []
    seen_ns: list[set[str]] = []
    seen_ds: list[set[str]] = []
    for server in parent_nameservers:
        ns, err = _ask_parent(name, "NS", server, port, timeout)
        ds, err_ds = _ask_parent(name, "DS", server, port, timeout)
        errors += [e for e in (err, err_ds) if e]
        if err is None:
            seen_ns.append(ns)
        if err_ds is None:
            seen_ds.append(_canonical_ds(ds))
    if not parent_nameservers:
        errors.append("No parent name servers were given to ask.")
    fixes: list[str] = []
    parent_ns = set().union(*seen_ns) if seen_ns else set()
    parent_ds = set().union(*seen_ds) if seen_ds else set()
    if any(s != parent_ns for s in seen_ns) or any(s != parent_ds for s in seen_ds):
        fixes.append(
            "The parent's name servers disagree with each other; a change at the registrar may "
            "still be propagating. Check again later."
        )
    ns_ok = bool(seen_ns) and all(s == want_ns for s in seen_ns)
    ds_ok = bool(seen_ds) and all(s == want_ds for s in seen_ds)
    if seen_ns and not ns_ok:
        if not parent_ns:
            fixes.append(f"The parent zone does not delegate {zone_text} at all.")
        fixes.append(
            f"At the registrar, set the name servers (NS) of {zone_text} to: "
            + ", ".join(sorted(want_ns))
            + "."
        )
        if extra := sorted(parent_ns - want_ns):
            fixes.append("Remove these name servers: " + ", ".join(extra) + ".")
    if seen_ds and not ds_ok:
        for wanted in sorted(want_ds - parent_ds):
            fixes.append(f"At the registrar, add the DS record for {zone_text}: {wanted}")
        for extra_ds in sorted(parent_ds - want_ds):
            why = (
                "the zone is not signed"
                if not want_ds
                else "it matches no key-signing key the zone publishes"
            )
            fixes.append(
                f"At the registrar, remove the DS record {extra_ds}: {why}, so validating "
                "resolvers would reject the zone."
            )
    return DelegationResult(
        zone=zone_text,
        parent_ns=tuple(sorted(parent_ns)),
        expected_ns=tuple(sorted(want_ns)),
        parent_ds=tuple(sorted(parent_ds)),
        expected_ds=tuple(sorted(want_ds)),
        ns_ok=ns_ok,
        ds_ok=ds_ok,
        fixes=tuple(fixes),
        errors=tuple(errors),
    )
