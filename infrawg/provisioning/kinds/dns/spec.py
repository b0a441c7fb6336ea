"""The DNS kind's typed desired state: RRsets, the zone, and the zone's own safety rule."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from infrawg.errors import Invalid
from infrawg.provisioning.base import Change, Op, Plan, Spec, diff_items

__all__ = ["APEX_GUARDED", "RRset", "ZoneSpec", "diff_zone"]

# Changing these at the apex of a live zone needs a person's confirmation (force).
APEX_GUARDED = ("NS", "DNSKEY")


@dataclass(frozen=True, order=True)
class RRset:
    """One RRset: absolute lower-case owner name, type mnemonic, TTL, canonical values.

    Build it with `names.parse_rrset` (this kind's folder), which validates the values through
    dnspython and canonicalises them (absolute names, sorted, no duplicates), so two RRsets with
    the same records compare equal.
    """

    name: str
    rdtype: str
    ttl: int
    values: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.rdtype)

    @property
    def path(self) -> str:
        return f"{self.name} {self.rdtype}"

    def render_lines(self) -> list[str]:
        """How a plan shows it: one line a value, with the TTL."""
        return [f"{self.ttl} {v}" for v in self.values]

    def to_text(self) -> str:
        return "\n".join(f"{self.name} {self.ttl} IN {self.rdtype} {v}" for v in self.values)


@dataclass(frozen=True)
class ZoneSpec(Spec):
    """A DNS zone: RRsets keyed by (name, type), and whether it is DNSSEC-signed (R11).

    SOA and the DNSSEC records (DNSKEY, RRSIG, NSEC, ...) are not part of the spec: the provider
    or the server owns them. `rrsets` is kept sorted by key so equal zones compare equal.
    """

    kind: ClassVar[str] = "dns"

    zone: str
    rrsets: tuple[RRset, ...] = ()
    dnssec: bool = False

    def __post_init__(self) -> None:
        zone = self.zone.lower().rstrip(".") + "."
        object.__setattr__(self, "zone", zone)
        keys = [r.key for r in self.rrsets]
        if len(keys) != len(set(keys)):
            dupes = sorted({f"{n} {t}" for n, t in keys if keys.count((n, t)) > 1})
            raise Invalid(f"Each name and type may appear once; repeated: {', '.join(dupes)}")
        object.__setattr__(self, "rrsets", tuple(sorted(self.rrsets, key=lambda r: r.key)))

    @property
    def ref(self) -> str:
        return self.zone

    def items(self) -> dict[str, RRset]:
        return {r.path: r for r in self.rrsets}

    def by_key(self) -> dict[tuple[str, str], RRset]:
        return {r.key: r for r in self.rrsets}

    def get(self, name: str, rdtype: str) -> RRset | None:
        return self.by_key().get((name.lower().rstrip(".") + ".", rdtype.upper()))

    def with_rrsets(self, rrsets: Iterable[RRset]) -> ZoneSpec:
        return dataclasses.replace(self, rrsets=tuple(rrsets))

    def extra_changes(self, current: Spec | None) -> list[Change]:
        """DNSSEC on or off is a setting of the zone, not an RRset (R11)."""
        if current is None:
            return [Change(Op.CREATE, "dnssec", None, True)] if self.dnssec else []
        assert isinstance(current, ZoneSpec)
        if self.dnssec != current.dnssec:
            return [Change(Op.UPDATE, "dnssec", current.dnssec, self.dnssec)]
        return []

    def safety_problems(self, plan: Plan[Any]) -> list[str]:
        # Apex NS and DNSKEY are what the parent zone points at: changing them on a live zone
        # can break the delegation or the DNSSEC chain (R11), so a person must confirm.
        problems = []
        for c in plan.changes:
            item = c.after if c.after is not None else c.before
            if isinstance(item, RRset) and item.name == self.zone and item.rdtype in APEX_GUARDED:
                problems.append(f"it touches the apex {item.rdtype} records ({c.op.value})")
        return problems


def diff_zone(desired: ZoneSpec, current: ZoneSpec | None) -> list[Change]:
    """RRset-level diff: the generic item diff plus the DNSSEC setting (what `Provider.plan`
    does for a zone; kept for providers that plan against an adjusted spec)."""
    have = current.items() if current is not None else {}
    return diff_items(desired.items(), have) + desired.extra_changes(current)
