"""The application kind (R14): a Chef cookbook produced with the tenant, reviewed by staff.

Registered under the entry-point group `infrawg.kinds` as `app` (and in kinds.BUILT_IN); its
provider is `cookbook_dir`. Converging runs in the operators' Chef, not in this site.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from infrawg.errors import Invalid
from infrawg.jobs import JobContext, Pending
from infrawg.membership.models import Person
from infrawg.policy import Permission, can
from infrawg.provisioning.base import Check, Provider
from infrawg.provisioning.kinds import Kind
from infrawg.provisioning.kinds.app import versions
from infrawg.provisioning.kinds.app.forms import AppEditForm, AppParametersForm
from infrawg.provisioning.models import Service
from infrawg.provisioning.providers.cookbook import CONVERGE_NOTE, CookbookRelease
from infrawg.provisioning.providers.cookbook.spec import COOKBOOK_NAME


class AppKind(Kind):
    name = "app"
    label = "Application (Chef cookbook)"
    ParametersForm = AppParametersForm
    panels = ("provisioning/app/_panel.html",)

    def parameters(self, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        cookbook = str(params.get("cookbook") or "").strip()
        if not COOKBOOK_NAME.match(cookbook):
            raise Invalid(
                "A cookbook name is 2-60 lower-case letters, digits and _, starting with a letter.",
                field="cookbook",
            )
        vm = str(params.get("vm") or "").strip()
        return cookbook, {"cookbook": cookbook, "vm": vm}

    def spec_of(self, service: Service) -> CookbookRelease:
        """What the cookbook directory holds: the newest published version."""
        version = versions.published(service)
        if version is None:
            raise ValueError(f"Service #{service.id} has no published version")
        return versions.release_of(version)

    def provision(
        self, ctx: JobContext, service: Service, provider: Provider[Any], reviewed: str | None
    ) -> Pending | None:
        # Nothing to publish when the service starts: the tenant describes the application
        # next, and each version is published once staff approved it (versions.publish_version).
        if versions.published(service) is None:
            ctx.log("no approved version yet: the tenant describes the application next")
            return None
        return super().provision(ctx, service, provider, reviewed)

    def checks(self, service: Service, provider: Provider[Any]) -> list[Check]:
        if versions.published(service) is None:
            return []
        return super().checks(service, provider)

    def panel_context(self, service: Service, person: Person) -> dict[str, Any]:
        history = versions.versions_of(service)
        return {
            "app_versions": history,
            "app_form": AppEditForm(
                formdata=None, data=versions.form_fields(history[0] if history else None)
            ),
            "app_may_edit": service.state.on_provider
            and can(person, Permission.SERVICE_MANAGE, service),
            "app_may_review": can(person, Permission.APP_REVIEW, service),
            "converge_note": CONVERGE_NOTE,
        }

    def init_app(self, app: Flask) -> None:
        from infrawg import web
        from infrawg.provisioning.kinds.app import views  # (routes)

        # R14: staff's queue of cookbook versions waiting for a review, on their dashboard.
        web.add_dashboard_section(
            app, "provisioning/app/_waiting_review.html", views.dashboard_reviews, waiting=True
        )


APP = AppKind()
