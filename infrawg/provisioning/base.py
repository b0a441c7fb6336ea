"""The service layer's types and the one interface every provider implements.

A provider turns a typed, frozen `Spec` (desired state) into reality in four steps that a job,
a test or a person can run one at a time:

    observed = provider.read(spec.ref)          # what is there now, with a fingerprint
    plan = provider.plan(spec, observed)        # pure diff, nothing touched
    result = provider.apply(plan)               # re-reads, checks safety, executes
    checks = provider.verify(spec)              # looks again, through another path

Safety (stale plans, mass changes, apex NS/DNSKEY) is enforced here, in `apply_plan`, once for
every provider, as octoDNS does it; providers only implement `execute`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

from infrawg.errors import Conflict, Invalid

__all__ = [
    "SAFETY_MIN_ITEMS",
    "SAFETY_THRESHOLD",
    "ApplyResult",
    "Change",
    "Check",
    "Conflict",
    "Invalid",
    "Observed",
    "Op",
    "Plan",
    "Provider",
    "ProviderError",
    "RRset",
    "Spec",
    "StalePlan",
    "UnsafePlan",
    "ZoneSpec",
    "apply_plan",
    "fingerprint_of",
]

# A plan may delete or change at most this share of a resource's existing items unless forced,
# once the resource has at least SAFETY_MIN_ITEMS items (small zones change wholesale routinely).
SAFETY_THRESHOLD = 0.30
SAFETY_MIN_ITEMS = 10


# -- errors --------------------------------------------------------------------------------------


class StalePlan(Conflict):
    """The resource changed since the plan was made; make a new plan and review it again."""

    retry_can_help = True


class UnsafePlan(Conflict):
    """The plan crosses a safety threshold; it runs only with `force=True`."""


class ProviderError(RuntimeError):
    """The backend failed (network, refused update, bad credentials).

    Not a domain error: nothing the person typed is wrong, and a job may retry it.
    """


# -- specs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """Desired state of one resource. Each kind subclasses it with typed fields."""

    kind: ClassVar[str] = ""

    @property
    def ref(self) -> str:
        """The resource's identity for `read`/`destroy` (a zone name, a hostname...)."""
        raise NotImplementedError

    def items(self) -> Mapping[str, Any]:
        """The resource's items keyed by path; used for diff counts and fingerprints."""
        raise NotImplementedError


@dataclass(frozen=True, order=True)
class RRset:
    """One RRset: absolute lower-case owner name, type mnemonic, TTL, canonical values.

    Build it with `infrawg.provisioning.dns.parse_rrset`, which validates the values through
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


S = TypeVar("S", bound=Spec)


# -- observation and plans ---------------------------------------------------------------------


def fingerprint_of(state: Spec | None) -> str:
    """A stable digest of a state; apply compares it to refuse plans made on an older state."""
    if state is None:
        payload: Any = None
    else:
        payload = {"type": type(state).__name__, "state": _jsonable(state)}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return digest[:32]


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Observed(Generic[S]):
    """What a provider found: the state (None when the resource does not exist) and its
    fingerprint. `detail` carries read-only facts that are not desired state (the DNSSEC keys a
    server holds, a signature expiry) for the UI and for warnings."""

    ref: str
    state: S | None
    fingerprint: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.state is not None

    @classmethod
    def of(cls, ref: str, state: S | None, **detail: Any) -> Observed[S]:
        # Read-only: observations may be cached and shared between callers.
        return cls(
            ref=ref,
            state=state,
            fingerprint=fingerprint_of(state),
            detail=MappingProxyType(detail),
        )


class Op(StrEnum):
    """What a change does. `replace` is for items that cannot change in place (a VM's image);
    DNS providers emit create, update and delete only."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"


_SIGN = {Op.CREATE: "+", Op.UPDATE: "~", Op.REPLACE: "!", Op.DELETE: "-"}


@dataclass(frozen=True)
class Change:
    """One item's change. `before`/`after` are the item's typed values (an `RRset` for DNS,
    None for a side that does not exist); `sensitive` masks both in every rendering."""

    op: Op
    path: str
    before: Any = None
    after: Any = None
    sensitive: bool = False

    def render(self) -> str:
        if self.sensitive:
            return f"{_SIGN[self.op]} {self.path}  (sensitive value hidden)"
        lines = [f"{_SIGN[self.op]} {self.path}"]
        old = _lines(self.before)
        new = _lines(self.after)
        lines += [f"    - {v}" for v in old if v not in new]
        lines += [f"    + {v}" for v in new if v not in old]
        if self.op is Op.UPDATE and not lines[1:]:
            lines.append("    (no value change)")
        return "\n".join(lines)


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, RRset):
        return [f"{value.ttl} {v}" for v in value.values]
    return [str(value)]


@dataclass(frozen=True)
class Plan(Generic[S]):
    """A reviewed intention: the changes that take `observed` to `spec`.

    `fingerprint` is the observed state's fingerprint; `apply` refuses the plan when the
    resource no longer has it. `existing_items` (the item count when planned) feeds the
    mass-change threshold. An empty `changes` means in sync.
    """

    provider: str
    ref: str
    spec: S
    changes: tuple[Change, ...]
    fingerprint: str
    existing_items: int = 0
    resource_exists: bool = True
    warnings: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.changes

    def __bool__(self) -> bool:
        return bool(self.changes)

    def counts(self) -> dict[Op, int]:
        return {op: sum(1 for c in self.changes if c.op is op) for op in Op}

    def render(self) -> str:
        """A readable diff, for the job log and for review before applying."""
        head = f"{self.provider} {self.ref}: "
        if self.empty:
            text = head + "in sync, nothing to do"
        else:
            counts = self.counts()
            summary = ", ".join(f"{n} to {op.value}" for op, n in counts.items() if n)
            text = head + summary + "\n" + "\n".join(c.render() for c in self.changes)
        if self.warnings:
            text += "\n" + "\n".join(f"warning: {w}" for w in self.warnings)
        return text


@dataclass(frozen=True)
class ApplyResult:
    """What apply did. `applied` is False for a dry run or an empty plan."""

    ref: str
    applied: bool
    dry_run: bool
    changes: tuple[Change, ...]
    log: tuple[str, ...] = ()
    fingerprint: str = ""


@dataclass(frozen=True)
class Check:
    """One verification: what was checked, whether it held, and what was seen."""

    name: str
    ok: bool
    detail: str = ""


# -- the interface -------------------------------------------------------------------------------


class Provider(ABC, Generic[S]):
    """A backend for one kind of service. Subclass it, then register the class under the
    entry-point group `infrawg.providers` (built-ins register the same way).

    Class attributes:
      kind          -- "domain", "dns", "tls", "vm" or "app"
      name          -- the registry name (the entry-point name)
      capabilities  -- what the provider can do beyond the contract, e.g. {"dnssec",
                       "txt_by_value", "zone_create"}; declare only what is implemented
      Config        -- a dataclass; fields typed `Secret` hold references (`env:NAME`,
                       `file:/path`) in configuration and are resolved when the provider is built
    """

    kind: ClassVar[str]
    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset()
    Config: ClassVar[type]

    def __init__(self, config: Any) -> None:
        self.config = config

    @abstractmethod
    def validate(self, spec: S) -> None:
        """Check the spec without touching anything; raise `Invalid` with a message a person
        can act on (for DNS, the parser's own message for a bad record)."""

    @abstractmethod
    def read(self, ref: str) -> Observed[S]:
        """Return the resource's current state (state None when it does not exist)."""

    @abstractmethod
    def plan(self, spec: S, observed: Observed[S]) -> Plan[S]:
        """Diff `spec` against `observed`. Pure: no I/O. An empty plan means in sync."""

    @abstractmethod
    def execute(self, plan: Plan[S]) -> list[str]:
        """Carry out a plan that `apply_plan` has already checked; return log lines.

        Called only by the framework. Must be idempotent: executing a plan whose changes are
        already in place leaves the resource as it is.
        """

    @abstractmethod
    def verify(self, spec: S) -> list[Check]:
        """Check the resource through a path other than the writer's (DNS queries to the
        server, `dnssec-verify` on a signed file) and report each check."""

    @abstractmethod
    def destroy(self, ref: str) -> ApplyResult:
        """Remove the resource (or everything this provider manages in it)."""

    # -- provided by the framework -------------------------------------------------------------

    def apply(self, plan: Plan[S], dry_run: bool = False, force: bool = False) -> ApplyResult:
        """Apply a plan through the shared safety checks (see `apply_plan`)."""
        return apply_plan(self, plan, dry_run=dry_run, force=force)

    def plan_for(self, spec: S) -> Plan[S]:
        """Convenience: validate, read and plan in one call."""
        self.validate(spec)
        return self.plan(spec, self.read(spec.ref))

    def make_plan(
        self,
        spec: S,
        observed: Observed[S],
        changes: Iterable[Change],
        warnings: Iterable[str] = (),
    ) -> Plan[S]:
        """Build a Plan stamped with the observed fingerprint (helper for `plan`)."""
        existing = len(observed.state.items()) if observed.state is not None else 0
        return Plan(
            provider=self.name,
            ref=spec.ref,
            spec=spec,
            changes=tuple(changes),
            fingerprint=observed.fingerprint,
            existing_items=existing,
            resource_exists=observed.exists,
            warnings=tuple(warnings),
        )


def safety_problems(plan: Plan[Any]) -> list[str]:
    """Why a plan needs `force=True`; empty when it may run unattended."""
    problems = []
    touched = sum(1 for c in plan.changes if c.op is not Op.CREATE)
    if plan.existing_items >= SAFETY_MIN_ITEMS and touched > SAFETY_THRESHOLD * plan.existing_items:
        problems.append(
            f"it deletes or changes {touched} of {plan.existing_items} existing items "
            f"(more than {SAFETY_THRESHOLD:.0%})"
        )
    if plan.resource_exists and isinstance(plan.spec, ZoneSpec):
        # Apex NS and DNSKEY are what the parent zone points at: changing them on a live zone
        # can break the delegation or the DNSSEC chain (R11), so a person must confirm.
        apex = plan.spec.zone
        for c in plan.changes:
            item = c.after if c.after is not None else c.before
            if isinstance(item, RRset) and item.name == apex and item.rdtype in ("NS", "DNSKEY"):
                problems.append(f"it touches the apex {item.rdtype} records ({c.op.value})")
    return problems


def apply_plan(
    provider: Provider[Any], plan: Plan[Any], *, dry_run: bool = False, force: bool = False
) -> ApplyResult:
    """The one path by which any plan is applied.

    1. Re-read the resource and refuse (`StalePlan`) if its fingerprint is not the one the plan
       was made against: someone changed it since the plan was reviewed.
    2. Refuse (`UnsafePlan`) unless `force` a plan crossing a safety threshold.
    3. Dry run: report what would happen, touch nothing. Otherwise execute.
    """
    if plan.provider != provider.name:
        raise Invalid(f"This plan was made by provider {plan.provider!r}, not {provider.name!r}.")
    current = provider.read(plan.ref)
    if current.fingerprint != plan.fingerprint:
        raise StalePlan(
            f"{plan.ref} changed after this plan was made; make a new plan and review it."
        )
    problems = safety_problems(plan)
    if problems and not force:
        raise UnsafePlan(
            f"Refusing to apply the plan for {plan.ref}: "
            + "; ".join(problems)
            + ". Review it and apply with force to confirm."
        )
    if dry_run or plan.empty:
        return ApplyResult(
            ref=plan.ref,
            applied=False,
            dry_run=dry_run,
            changes=plan.changes,
            log=(plan.render(),),
            fingerprint=current.fingerprint,
        )
    log = provider.execute(plan)
    after = provider.read(plan.ref)
    return ApplyResult(
        ref=plan.ref,
        applied=True,
        dry_run=False,
        changes=plan.changes,
        log=tuple(log),
        fingerprint=after.fingerprint,
    )


def diff_zone(desired: ZoneSpec, current: ZoneSpec | None) -> list[Change]:
    """RRset-level diff shared by the DNS providers: create, update (values or TTL), delete."""
    have = current.by_key() if current is not None else {}
    want = desired.by_key()
    changes: list[Change] = []
    for key in sorted(want.keys() | have.keys()):
        old, new = have.get(key), want.get(key)
        if old == new:
            continue
        if old is None:
            changes.append(Change(Op.CREATE, new.path, None, new))  # type: ignore[union-attr]
        elif new is None:
            changes.append(Change(Op.DELETE, old.path, old, None))
        else:
            changes.append(Change(Op.UPDATE, new.path, old, new))
    if current is None:
        if desired.dnssec:
            changes.append(Change(Op.CREATE, "dnssec", None, True))
    elif desired.dnssec != current.dnssec:
        changes.append(Change(Op.UPDATE, "dnssec", current.dnssec, desired.dnssec))
    return changes
