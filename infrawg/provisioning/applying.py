"""Applying a spec in a job, and the digest of a plan a person reviewed: what every kind's
provisioning step and the lifecycle's reviewed plans share (no kind is imported here)."""

from __future__ import annotations

import hashlib
from typing import Any

from infrawg.errors import Conflict
from infrawg.jobs import JobContext, Pending
from infrawg.provisioning.base import Plan, Provider, ProviderError, Spec


def digest(plan: Plan[Any]) -> str:
    """What a person reviewed: the plan's diff and the state it was made against."""
    return hashlib.sha256((plan.fingerprint + "\n" + plan.render()).encode()).hexdigest()[:32]


def apply_spec(
    ctx: JobContext, provider: Provider[Any], spec: Spec, reviewed: str | None
) -> Pending | None:
    """Plan `spec`, apply it (refused when a reviewed plan changed since), then verify it."""
    provider.validate(spec)
    plan = provider.plan(spec, provider.read(spec.ref))
    ctx.record_plan(plan.render())
    ctx.log(plan.render().splitlines()[0])
    # A re-run after a crash finds the reviewed change already live: the plan is empty, so
    # its digest differs from the review, and "nothing was applied" would be untrue.
    already_applied = plan.empty and ctx.rerun
    # A call after Pending continues the reviewed operation: its plan is what is left of it.
    continuing = bool(ctx.job.progress)
    if reviewed is not None and digest(plan) != reviewed and not (already_applied or continuing):
        raise Conflict(
            "The resource changed between the review and this job; nothing was applied. "
            "Review the plan again."
        )
    result = provider.apply(plan)
    for line in result.log:
        ctx.log(line)
    if result.pending is not None:
        return result.pending
    if not result.applied:
        ctx.log("nothing applied: already in sync")
        if already_applied:
            ctx.log("already applied: the changes are live (an earlier attempt applied them)")
    failed = [c for c in provider.verify(spec) if not c.ok]
    for check in failed:
        ctx.log(f"check failed: {check.name}: {check.detail}")
    if failed:
        raise ProviderError(f"{len(failed)} verification check(s) failed after applying")
    ctx.log("verified")
    return None
