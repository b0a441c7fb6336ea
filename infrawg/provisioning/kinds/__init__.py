"""Kinds of service: each a plug-in that holds everything of one kind.

A kind is a folder `infrawg/provisioning/kinds/<kind>/` (or any installed package) with its
typed `Spec`, its diff rules (`Spec.extra_changes`), its safety rules (`Spec.safety_problems`),
its parameter form, its page panels and fragments, and its verify checks; it registers a `Kind`
object under the entry-point group `infrawg.kinds`:

    [project.entry-points."infrawg.kinds"]
    dns = "infrawg.provisioning.kinds.dns.kind:DNS"

The generic layer (service.py, lifecycle.py, views.py) looks up `get(service_type.kind)` and
never imports a kind. Built-in kinds are also listed in BUILT_IN (so a checkout whose installed
metadata is older still finds them), and a test or a command may `register()` one in code.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from infrawg.errors import Invalid, NotFound

if TYPE_CHECKING:
    from flask import Flask
    from flask_wtf import FlaskForm

    from infrawg.jobs import JobContext, Pending
    from infrawg.membership.models import Person
    from infrawg.provisioning.base import Check, Provider, Spec
    from infrawg.provisioning.models import Service

GROUP = "infrawg.kinds"
# The kinds that ship with infrawg, by the same "module:attribute" the entry points name.
BUILT_IN = {
    "app": "infrawg.provisioning.kinds.app.kind:APP",
    "dns": "infrawg.provisioning.kinds.dns.kind:DNS",
    "domain": "infrawg.provisioning.kinds.domain.kind:DOMAIN",
    "tls": "infrawg.provisioning.kinds.tls.kind:TLS",
    "vm": "infrawg.provisioning.kinds.vm.kind:VM",
}

__all__ = ["BUILT_IN", "GROUP", "Kind", "available", "get", "register", "unregister"]


class Kind:
    """One kind of service. Subclass it, set the class attributes, override what the kind
    needs; the defaults serve a kind whose whole state is its `Spec`.

      name            -- the kind's key ("dns"); service types and providers name it
      label           -- for people ("DNS zone")
      ParametersForm  -- a FlaskForm whose fields the request form adds (what to ask for)
      panels          -- templates the service page includes after the generic frame
      fragment        -- the template an htmx request to the service page gets (None: the
                         whole page)
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    ParametersForm: ClassVar[type[FlaskForm] | None] = None
    panels: ClassVar[tuple[str, ...]] = ()
    fragment: ClassVar[str | None] = None

    # -- requests --------------------------------------------------------------------------------

    def form_parameters(self, form: FlaskForm) -> dict[str, Any]:
        """The kind's parameters from a submitted request form (its ParametersForm fields)."""
        if self.ParametersForm is None:
            return {}
        names = [f.name for f in self.ParametersForm()]
        return {name: form[name].data for name in names if name != "csrf_token"}

    def parameters(self, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Check a request's parameters: (the service's name, the parameters to store).
        Raise `Invalid` (with `field=`) or `Conflict` with a message a person can act on."""
        name = str(params.get("name") or "").strip()
        if not name:
            raise Invalid("Give the service a name.", field="name")
        return name, dict(params)

    def requested(self, service: Service, provider: type[Provider[Any]]) -> None:
        """A request was made: add the kind's own rows (a zone and its NS), if any."""

    # -- desired state ---------------------------------------------------------------------------

    def spec_of(self, service: Service) -> Spec:
        """The service's desired state, as the site holds it."""
        raise NotImplementedError

    def suspended_spec(self, service: Service) -> Spec | None:
        """What the resource holds while the service is suspended (R7). None, the default:
        what it holds now (the suspension plan is made against the observed state, so it is
        empty, and neither the tenant's data nor their unapplied edits are touched)."""
        return None

    def provision(
        self, ctx: JobContext, service: Service, provider: Provider[Any], reviewed: str | None
    ) -> Pending | None:
        """The kind's step of the provisioning job: by default plan, apply (refused when the
        plan differs from the one reviewed), verify. A long operation returns `Pending`."""
        from infrawg.provisioning.applying import apply_spec

        return apply_spec(ctx, provider, self.spec_of(service), reviewed)

    def checks(self, service: Service, provider: Provider[Any]) -> list[Check]:
        """The daily verify of an active service: by default the provider's `verify` of the
        spec (a kind may add checks of its own, through yet another path)."""
        return provider.verify(self.spec_of(service))

    def decommissioned(self, service: Service) -> None:
        """The resource is gone: free what the kind holds for it (a name, say)."""

    def monitoring_targets(self, service: Service) -> tuple[Any, ...]:
        """R13: what the monitoring watches of a running service (monitoring `Target`s:
        a server's node exporter and SSH port, a certificate's hosts); none by default."""
        return ()

    # -- the page --------------------------------------------------------------------------------

    def panel_context(self, service: Service, person: Person) -> dict[str, Any]:
        """What the kind's panels need, for `person` viewing `service`."""
        return {}

    def load_options(self) -> list[Any]:
        """SQLAlchemy loader options for the kind's relations of `Service` (lists, pages)."""
        return []

    def init_app(self, app: Flask) -> None:
        """Import the kind's routes and jobs (called by the provisioning area's init_app)."""


_registered: dict[str, Kind] = {}
_loaded: dict[str, Kind] = {}


def _load(name: str, target: str) -> Kind:
    if target not in _loaded:
        module, _, attribute = target.partition(":")
        found = getattr(import_module(module), attribute)
        if not isinstance(found, Kind) or found.name != name:
            raise TypeError(f"{target} is not the Kind called {name!r} ({GROUP})")
        _loaded[target] = found
    return _loaded[target]


def available() -> dict[str, Kind]:
    """Every kind by name: the built-ins, those installed under `infrawg.kinds` (entry points),
    and those registered in code, in name order."""
    targets = dict(BUILT_IN)
    for ep in entry_points(group=GROUP):
        targets[ep.name] = ep.value
    found = {name: _load(name, target) for name, target in targets.items()}
    found.update(_registered)
    return dict(sorted(found.items()))


def get(name: str) -> Kind:
    """The kind called `name`; NotFound when none is installed."""
    if name in _registered:
        return _registered[name]
    kinds = available()
    if name not in kinds:
        raise NotFound(
            f"This site has no {name!r} kind of service (installed: {', '.join(kinds)})."
        )
    return kinds[name]


def register(kind: Kind) -> Kind:
    """Add a kind in code (a test's toy kind); entry points are the way for a package."""
    if not kind.name:
        raise ValueError("A kind needs a name")
    _registered[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    _registered.pop(name, None)
