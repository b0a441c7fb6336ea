"""The service layer's types and the one interface every provider implements.

A provider turns a typed, frozen `Spec` (desired state) into reality in four steps that a job,
a test or a person can run one at a time:

    observed = provider.read(spec.ref)          # what is there now, with a fingerprint
    plan = provider.plan(spec, observed)        # pure diff, nothing touched
    result = provider.apply(plan)               # re-reads, checks safety, executes
    checks = provider.verify(spec)              # looks again, through another path

Safety (stale plans, mass changes, and each kind's own rules, `Spec.safety_problems`) is
enforced here, in `apply_plan`, once for every provider, as octoDNS does it. `plan` is a template
method: a generic diff over `spec.items()`, plus the spec's `extra_changes` (settings that are not
items) and the provider's `extra_changes` hook, so most providers implement only `read`,
`execute` and `verify`. A destroy is a plan too (`plan_destroy`), through the same gate.

This module names no kind: each kind's Spec lives in `infrawg/provisioning/kinds/<kind>/`.
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
from infrawg.jobs.runner import Pending

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
    "Pending",
    "Plan",
    "Provider",
    "ProviderError",
    "Spec",
    "StalePlan",
    "UnsafePlan",
    "apply_plan",
    "diff_items",
    "fingerprint_of",
    "supports",
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
        """The resource's items keyed by path; the generic diff compares them one by one."""
        raise NotImplementedError

    def extra_changes(self, current: Spec | None) -> list[Change]:
        """Changes to settings that are not items (a zone's DNSSEC on/off); none by default."""
        return []

    def safety_problems(self, plan: Plan[Any]) -> list[str]:
        """The kind's own safety rules: why `plan` needs a person's confirmation (`force`)."""
        return []


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
    render_lines = getattr(value, "render_lines", None)
    if callable(render_lines):  # an item that renders itself (a DNS RRset: one line a value)
        return list(render_lines())
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
    # A destroy plan removes the resource: reviewed and applied like any plan, but it is all
    # deletion by design, so the mass-change threshold and the kind's rules do not apply.
    destroy: bool = False

    @property
    def empty(self) -> bool:
        return not self.changes

    def __bool__(self) -> bool:
        return bool(self.changes)

    def counts(self) -> dict[Op, int]:
        return {op: sum(1 for c in self.changes if c.op is op) for op in Op}

    def render(self) -> str:
        """A readable diff, for the job log and for review before applying."""
        head = f"{self.provider} {self.ref}: " + ("destroy: " if self.destroy else "")
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
    # Set when the provider's operation is under way (execute returned Pending): the job
    # returns it to the runner, which calls again after `pending.retry_after`.
    pending: Pending | None = None


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
      kind          -- the kind of service it provides ("dns", ...: a key of `kinds`)
      name          -- the registry name (the entry-point name)
      capabilities  -- flags for what the backend does beyond the contract without extra
                       methods (e.g. {"dnssec", "zone_create"}). A capability with methods is
                       a typed protocol instead (`DnsChallengeSolver`): implement its methods
                       and callers find it with `supports(provider, Protocol)`
      Config        -- a dataclass; fields typed `Secret` hold references (`env:NAME`,
                       `file:/path`) in configuration and are resolved when the provider is built

    A provider implements `read`, `execute` and `verify` (and `validate` when the backend has
    rules of its own); `plan`, `plan_destroy`, `apply` and `destroy` come from the framework,
    and a provider with more to plan (a zone to re-sign) overrides the `extra_changes` hook.
    """

    kind: ClassVar[str]
    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset()
    Config: ClassVar[type]

    def __init__(self, config: Any) -> None:
        self.config = config

    def validate(self, spec: S) -> None:
        """Check the spec without touching anything; raise `Invalid` with a message a person
        can act on (for DNS, the parser's own message for a bad record)."""

    @abstractmethod
    def read(self, ref: str) -> Observed[S]:
        """Return the resource's current state (state None when it does not exist)."""

    @abstractmethod
    def execute(self, plan: Plan[S]) -> list[str] | Pending:
        """Carry out a plan that `apply_plan` has already checked; return log lines, or
        `Pending(retry_after, progress)` when the operation is under way (a VM booting): the
        job is called again later, plans again and finds what is left to do.

        Called only by the framework, for plans and for destroy plans (`plan.destroy`: remove
        the resource). Must be idempotent: executing a plan whose changes are already in place
        leaves the resource as it is.
        """

    @abstractmethod
    def verify(self, spec: S) -> list[Check]:
        """Check the resource through a path other than the writer's (DNS queries to the
        server, `dnssec-verify` on a signed file) and report each check."""

    # -- the template method and its hooks -----------------------------------------------------

    def plan(self, spec: S, observed: Observed[S]) -> Plan[S]:
        """Diff `spec` against `observed`. Pure: no I/O. An empty plan means in sync.

        The generic diff over `spec.items()`, then the spec's own `extra_changes`, then this
        provider's `extra_changes` hook, with `plan_warnings`.
        """
        current = observed.state
        changes = diff_items(spec.items(), current.items() if current is not None else {})
        changes += spec.extra_changes(current)
        changes += self.extra_changes(spec, observed)
        return self.make_plan(spec, observed, changes, self.plan_warnings(spec, observed))

    def extra_changes(self, spec: S, observed: Observed[S]) -> list[Change]:
        """Hook: changes the backend needs beyond the items (signatures to renew)."""
        return []

    def plan_warnings(self, spec: S, observed: Observed[S]) -> list[str]:
        """Hook: what a reviewer should know about the plan."""
        return []

    def plan_destroy(self, spec: S, observed: Observed[S]) -> Plan[S]:
        """The plan that removes the resource: every observed item deleted. Pure. A backend
        that must keep some items (a zone's apex NS on RFC 2136) overrides it."""
        state = observed.state
        have = state.items() if state is not None else {}
        changes = [Change(Op.DELETE, path, have[path], None) for path in sorted(have)]
        plan = self.make_plan(spec, observed, changes)
        return dataclasses.replace(plan, destroy=True)

    # -- provided by the framework -------------------------------------------------------------

    def apply(self, plan: Plan[S], dry_run: bool = False, force: bool = False) -> ApplyResult:
        """Apply a plan through the shared safety checks (see `apply_plan`)."""
        return apply_plan(self, plan, dry_run=dry_run, force=force)

    def plan_for(self, spec: S) -> Plan[S]:
        """Convenience: validate, read and plan in one call."""
        self.validate(spec)
        return self.plan(spec, self.read(spec.ref))

    def destroy(self, ref: str) -> ApplyResult:
        """Remove the resource now, through a destroy plan made on what is there (for tests
        and commands; the site reviews the destroy plan first, see `plan_destroy`)."""
        observed = self.read(ref)
        if observed.state is None:
            return ApplyResult(ref=ref, applied=False, dry_run=False, changes=())
        return apply_plan(self, self.plan_destroy(observed.state, observed))

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


def supports(provider: Provider[Any] | type[Provider[Any]], capability: type) -> bool:
    """Whether a provider (instance or class) implements the typed capability `capability`
    (a `runtime_checkable` Protocol such as `DnsChallengeSolver`)."""
    if isinstance(provider, type):
        return issubclass(provider, capability)
    return isinstance(provider, capability)


def diff_items(desired: Mapping[str, Any], current: Mapping[str, Any]) -> list[Change]:
    """The generic diff: item by item, by path; create, update (any difference) and delete."""
    changes: list[Change] = []
    for path in sorted(desired.keys() | current.keys()):
        old, new = current.get(path), desired.get(path)
        if old == new:
            continue
        if old is None:
            changes.append(Change(Op.CREATE, path, None, new))
        elif new is None:
            changes.append(Change(Op.DELETE, path, old, None))
        else:
            changes.append(Change(Op.UPDATE, path, old, new))
    return changes


def safety_problems(plan: Plan[Any]) -> list[str]:
    """Why a plan needs `force=True`; empty when it may run unattended. A destroy plan is
    all deletion by design: its gate is the review, not the thresholds."""
    if plan.destroy:
        return []
    problems = []
    touched = sum(1 for c in plan.changes if c.op is not Op.CREATE)
    if plan.existing_items >= SAFETY_MIN_ITEMS and touched > SAFETY_THRESHOLD * plan.existing_items:
        problems.append(
            f"it deletes or changes {touched} of {plan.existing_items} existing items "
            f"(more than {SAFETY_THRESHOLD:.0%})"
        )
    if plan.resource_exists:
        problems += plan.spec.safety_problems(plan)
    return problems


def apply_plan(
    provider: Provider[Any], plan: Plan[Any], *, dry_run: bool = False, force: bool = False
) -> ApplyResult:
    """The one path by which any plan (a destroy plan too) is applied.

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
    if dry_run or (plan.empty and not plan.destroy):
        return ApplyResult(
            ref=plan.ref,
            applied=False,
            dry_run=dry_run,
            changes=plan.changes,
            log=(plan.render(),),
            fingerprint=current.fingerprint,
        )
    log = provider.execute(plan)
    if isinstance(log, Pending):
        return ApplyResult(
            ref=plan.ref,
            applied=False,
            dry_run=False,
            changes=plan.changes,
            log=(log.progress,),
            fingerprint=current.fingerprint,
            pending=log,
        )
    after = provider.read(plan.ref)
    return ApplyResult(
        ref=plan.ref,
        applied=bool(plan.changes) or current.exists != after.exists,
        dry_run=False,
        changes=plan.changes,
        log=tuple(log),
        fingerprint=after.fingerprint,
    )
