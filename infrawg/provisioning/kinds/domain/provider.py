"""The built-in `manual` registrar provider (R10): staff do the work at the registrar's own
site. The site opens a task, waits (the job is `Pending`) until staff record who did it and
the new expiry, and checks the NS and DS afterwards by DNS (the delegation check of R11): the
manual registrar cannot set them itself, so it has no "set_delegation" capability.

A registrar provider implements `register(registration)` and `renew(registration, expiry)`,
each returning log lines when done or `Pending` while the registrar works; one with the
"set_delegation" capability also implements `set_delegation(registration, ns, ds)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar

from infrawg.errors import Conflict
from infrawg.jobs import Pending
from infrawg.provisioning.base import Check, Observed, Plan, Provider
from infrawg.provisioning.kinds.domain.models import DomainMode, DomainRegistration
from infrawg.provisioning.kinds.domain.spec import DomainSpec

# How long a job waiting for staff sleeps before it looks at the task again (recording the
# task done wakes it at once).
TASK_POLL = timedelta(hours=1)


@dataclass(frozen=True)
class ManualConfig:
    # Where staff go to do the task (shown on the task); optional.
    registrar_url: str = ""


class ManualRegistrarProvider(Provider[DomainSpec]):
    kind: ClassVar[str] = "domain"
    name: ClassVar[str] = "manual"
    capabilities: ClassVar[frozenset[str]] = frozenset()
    Config = ManualConfig

    # -- the registrar interface ------------------------------------------------------------------

    def register(self, registration: DomainRegistration) -> list[str] | Pending:
        """Register or transfer in: a task for staff until they record it. Tracking a domain
        registered elsewhere asks nothing of the registrar (the expiry came with the request)."""
        if registration.mode is DomainMode.TRACK:
            return [f"{registration.domain}: tracked; registered elsewhere"]
        if registration.task_done_at is not None and not registration.task_open:
            return [f"{registration.domain}: staff recorded the registrar task done"]
        registration.task_open = True
        return Pending(TASK_POLL, f"waiting for staff to {self._what(registration)}")

    def renew(self, registration: DomainRegistration, expiry: date | None) -> list[str] | Pending:
        """Renew: done once staff recorded an expiry later than `expiry`."""
        if registration.expires_on is not None and (
            expiry is None or registration.expires_on > expiry
        ):
            registration.task_open = False
            return [f"{registration.domain} renewed until {registration.expires_on.isoformat()}"]
        registration.task_open = True
        return Pending(TASK_POLL, f"waiting for staff to renew {registration.domain}")

    def _what(self, registration: DomainRegistration) -> str:
        where = f" at {self.config.registrar_url}" if self.config.registrar_url else ""
        return f"{registration.mode.value} {registration.domain}{where}"

    # -- the Provider interface: nothing to plan; the registrar is not read by a machine ----------

    def read(self, ref: str) -> Observed[DomainSpec]:
        return Observed.of(ref, None, manual=True)

    def execute(self, plan: Plan[DomainSpec]) -> list[str] | Pending:
        if plan.destroy:
            # Decommissioning: the domain stays with its registrant at the registrar (nothing
            # is deleted there); the site stops looking after it.
            return [f"{plan.ref}: no longer looked after here; the registrar keeps it"]
        raise Conflict("The manual registrar applies no plans: staff work at the registrar.")

    def verify(self, spec: DomainSpec) -> list[Check]:
        # Nothing to ask a registrar's site; the kind checks expiry and the delegation.
        return []
