"""The domain kind (R10): registrations at a registrar, who pays, renewals and reminders.

Registered under the entry-point group `infrawg.kinds` as `domain` (and in kinds.BUILT_IN).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.jobs import JobContext, Pending
from infrawg.membership.models import Person
from infrawg.policy import Permission, can
from infrawg.provisioning.base import Check, Provider
from infrawg.provisioning.kinds import Kind
from infrawg.provisioning.kinds.domain import registrations
from infrawg.provisioning.kinds.domain.forms import (
    BoardDecisionForm,
    DomainParametersForm,
    FoundationForm,
    PaymentForm,
    TaskDoneForm,
)
from infrawg.provisioning.kinds.domain.models import DomainEvent, registration_of
from infrawg.provisioning.kinds.domain.spec import DomainSpec
from infrawg.provisioning.models import Service
from infrawg.timeutil import today


class DomainKind(Kind):
    name = "domain"
    label = "Domain registration"
    ParametersForm = DomainParametersForm
    panels = ("provisioning/domain/_registration.html",)

    def parameters(self, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        return registrations.parameters(params)

    def requested(self, service: Service, provider: type[Provider[Any]]) -> None:
        registrations.create_registration(service)

    def spec_of(self, service: Service) -> DomainSpec:
        registration = registrations.get_registration(service)
        return DomainSpec(
            registration.domain,
            registration.registrar,
            registration.expires_on.isoformat() if registration.expires_on else "",
            registration.auto_renew,
        )

    def provision(
        self, ctx: JobContext, service: Service, provider: Provider[Any], reviewed: str | None
    ) -> Pending | None:
        return registrations.provision(ctx, service, provider)

    def checks(self, service: Service, provider: Provider[Any]) -> list[Check]:
        # The registrar is not read by a machine (the manual one); the site checks what it
        # holds: an expiry, and that it has not passed. The delegation has its own schedule.
        registration = registrations.get_registration(service)
        expires = registration.expires_on
        return [
            *provider.verify(self.spec_of(service)),
            Check("expiry recorded", expires is not None, "no expiry recorded"),
            Check(
                "not expired",
                expires is None or expires > today(),
                f"expired on {expires}",
            ),
        ]

    def panel_context(self, service: Service, person: Person) -> dict[str, Any]:
        registration = registration_of(service)
        if registration is None:
            return {"registration": None}
        events = list(
            db.session.scalars(
                select(DomainEvent)
                .where(DomainEvent.registration_id == registration.id)
                .order_by(DomainEvent.id)
            )
        )
        manages = can(person, Permission.SERVICE_MANAGE, service)
        return {
            "registration": registration,
            "domain_history": events,
            "manages_domain": manages,
            "works_tasks": can(person, Permission.JOB_MANAGE),
            "payment_form": PaymentForm(formdata=None),
            "foundation_form": FoundationForm(formdata=None),
            "task_form": TaskDoneForm(formdata=None, registrar=registration.registrar),
            "board_form": BoardDecisionForm(formdata=None),
            "board_decides": can(person, Permission.DOMAIN_PAYMENT_DECIDE),
        }

    def init_app(self, app: Flask) -> None:
        from infrawg import web
        from infrawg.provisioning.kinds.domain import views  # noqa: F401  (routes, jobs)
        from infrawg.ui import NavGroup, NavLink

        # R10: the board's queue of domains the foundation is asked to pay, with its count.
        web.add_nav_counter(app, _board_count)
        web.add_nav_link(
            app,
            NavLink(
                NavGroup.PEOPLE,
                "Domains to pay",
                "provisioning.domain_board_queue",
                web.permitted(Permission.DOMAIN_PAYMENT_DECIDE),
                count="domain_payments",
                id="nav-domain-payments",
                order=42,
            ),
        )


def _board_count(person: Person) -> dict[str, int]:
    if not can(person, Permission.DOMAIN_PAYMENT_DECIDE):
        return {}
    return {"domain_payments": len(registrations.board_queue())}


DOMAIN = DomainKind()
