"""Validation shared by the DNS providers (pure; no I/O)."""

from __future__ import annotations

from collections import defaultdict

import dns.name

from infrawg.errors import Invalid
from infrawg.provisioning.kinds.dns.names import SERVER_OWNED_TYPES, parse_rrset
from infrawg.provisioning.kinds.dns.spec import RRset, ZoneSpec


def validate_zone(spec: ZoneSpec) -> None:
    """Refuse a zone no server would load: names outside the zone, unparsable values, CNAME
    beside other data, no apex NS, server-owned types. Messages come from dnspython's parser."""
    try:
        origin = dns.name.from_text(spec.zone)
    except dns.exception.DNSException as exc:
        raise Invalid(f"{spec.zone!r} is not a valid zone name: {exc}") from exc
    types_at: dict[str, set[str]] = defaultdict(set)
    for rrset in spec.rrsets:
        if rrset.rdtype in SERVER_OWNED_TYPES:
            raise Invalid(f"{rrset.path}: {rrset.rdtype} records are managed by the server.")
        if not dns.name.from_text(rrset.name).is_subdomain(origin):
            raise Invalid(f"{rrset.name} is outside the zone {spec.zone}.")
        # Re-parse so a hand-built RRset gets the same checks as one from parse_rrset.
        reparsed = parse_rrset(rrset.name, rrset.rdtype, rrset.ttl, rrset.values, spec.zone)
        if reparsed.values != rrset.values:
            raise Invalid(
                f"{rrset.path}: values are not in canonical form; build it with parse_rrset."
            )
        types_at[rrset.name].add(rrset.rdtype)
    for name, types in types_at.items():
        if "CNAME" in types and len(types) > 1:
            raise Invalid(f"{name} has a CNAME, so it cannot have other records too.")
    if "CNAME" in types_at.get(spec.zone, set()):
        raise Invalid("The zone itself (@) cannot be a CNAME.")
    if "NS" not in types_at.get(spec.zone, set()):
        raise Invalid(f"The zone {spec.zone} needs NS records at its apex (@).")


def apex_ns(spec: ZoneSpec) -> RRset | None:
    return spec.get(spec.zone, "NS")
