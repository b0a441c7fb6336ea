"""One registry for the outside systems: mail, the mailing list and the service layer's providers.

Warehouse's ``register_service_factory`` / ``find_service`` in miniature. Each interface is a
row of INTERFACES: the INFRAWG_* setting that chooses it, its Protocol (or ABC), the built-in
implementations by name and, optionally, an entry-point group where installed distributions
add more. Every implementation has a ``create(config)`` classmethod that builds it from the
app's configuration (and a plain constructor for tests and scripts).

``init_app(app)`` runs in create_app: it builds every interface once, so a bad setting stops
start-up with a ConfigurationError naming it instead of failing the first request with a 500.
Development implementations (``development = True``: the outbox, the log list) warn when built.
``verify_class`` is the conformance check each interface's test runs over every implementation.

A distribution adds an implementation under the interface's entry-point group
(``infrawg.mail_backends``, ``infrawg.list_backends``, ``infrawg.providers``); a built-in name
always wins over an entry point of the same name.

Implementations are named by dotted path (``module:Class``), imported when chosen, so this
module imports no area and no area imports another through it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from flask import Flask, current_app

from infrawg.errors import DomainError
from infrawg.startup import ConfigurationError

log = logging.getLogger(__name__)
REFUSAL = "infrawg will not start"

__all__ = [
    "INTERFACES",
    "ConfigurationError",
    "Interface",
    "build",
    "find_class",
    "find_service",
    "implementations",
    "init_app",
    "load",
    "verify_class",
]


@dataclass(frozen=True)
class Interface:
    """One kind of outside system and how its implementation is chosen."""

    key: str  # what find_service takes: "mail", "list", "providers"
    setting: str  # the INFRAWG_* name without the prefix
    protocol: str  # dotted path of the Protocol or ABC every implementation satisfies
    builtins: Mapping[str, str] = field(default_factory=dict)  # name -> "module:Class"
    group: str | None = None  # entry-point group of third-party implementations
    extension: str = ""  # app.extensions key of the built service
    # A function (app) -> service for an interface whose setting configures many instances
    # (INFRAWG_PROVIDERS) rather than naming one implementation.
    builder: str | None = None

    @property
    def env(self) -> str:
        return f"INFRAWG_{self.setting}"


INTERFACES: dict[str, Interface] = {
    interface.key: interface
    for interface in (
        Interface(
            key="mail",
            setting="MAIL_BACKEND",
            protocol="infrawg.notices.mail:MailBackend",
            builtins={
                "smtp": "infrawg.notices.mail:SMTPBackend",
                "outbox": "infrawg.notices.mail:OutboxBackend",
            },
            group="infrawg.mail_backends",
            extension="infrawg_mail_backend",
        ),
        Interface(
            key="list",
            setting="LIST_BACKEND",
            protocol="infrawg.membership.lists:ListBackend",
            builtins={
                "log": "infrawg.membership.lists:LogListBackend",
                "mailman3": "infrawg.membership.lists:Mailman3ListBackend",
            },
            group="infrawg.list_backends",
            extension="infrawg_list_backend",
        ),
        Interface(
            key="providers",
            setting="PROVIDERS",
            protocol="infrawg.provisioning.base:Provider",
            group="infrawg.providers",  # the built-ins register here too (pyproject.toml)
            # ...and are named here as well, so a checkout whose installed metadata is older
            # (an editable install made before they were added) still finds them.
            builtins={
                "acme": "infrawg.provisioning.providers.acme.provider:AcmeProvider",
                "cookbook_dir": "infrawg.provisioning.providers.cookbook.publisher:"
                "CookbookDirProvider",
                "libvirt": "infrawg.provisioning.providers.libvirt:LibvirtProvider",
                "manual": "infrawg.provisioning.kinds.domain.provider:ManualRegistrarProvider",
                "monitoring": "infrawg.provisioning.providers.monitoring:MonitoringProvider",
                "rfc2136": "infrawg.provisioning.providers.rfc2136:Rfc2136Provider",
                "zonefile": "infrawg.provisioning.providers.zonefile:ZonefileProvider",
            },
            extension="infrawg_providers",
            builder="infrawg.provisioning.registry:configured_providers",
        ),
    )
}


def load(dotted: str) -> Any:
    """The object at ``module:attribute``."""
    module, _, attribute = dotted.partition(":")
    return getattr(import_module(module), attribute)


def implementations(key: str) -> dict[str, type[Any]]:
    """Every implementation of interface ``key`` by name: built-ins, then entry points."""
    interface = INTERFACES[key]
    found: dict[str, type[Any]] = {name: load(path) for name, path in interface.builtins.items()}
    if interface.group is not None:
        for ep in sorted(entry_points(group=interface.group), key=lambda e: e.name):
            found.setdefault(ep.name, ep.load())
    return found


def _names(interface: Interface) -> list[str]:
    names = set(interface.builtins)
    if interface.group is not None:
        names |= {ep.name for ep in entry_points(group=interface.group)}
    return sorted(names)


def find_class(key: str, name: str) -> type[Any]:
    """The implementation of ``key`` called ``name``; a ConfigurationError names the setting."""
    interface = INTERFACES[key]
    if name in interface.builtins:
        return load(interface.builtins[name])
    if interface.group is not None:
        for ep in entry_points(group=interface.group):
            if ep.name == name:
                return ep.load()
    raise ConfigurationError(
        f"{interface.env}={name!r} is not one of {', '.join(_names(interface)) or 'none'}"
    )


def _message(error: Exception) -> str:
    return error.message if isinstance(error, DomainError) else str(error)


def build(key: str, config: Mapping[str, Any]) -> Any:
    """Build the implementation of ``key`` that ``config`` chooses (errors propagate as raised)."""
    interface = INTERFACES[key]
    cls = find_class(key, str(config[interface.setting]))
    service = cls.create(config)
    if getattr(cls, "development", False):
        # Warehouse's console mailer does the same: first-class, and loud about it.
        log.warning("%s", cls.development_warning)
    return service


def init_app(app: Flask) -> None:
    """Build every outside system once from the configuration; refuse to start on a bad one."""
    for interface in INTERFACES.values():
        try:
            if interface.builder is not None:
                service = load(interface.builder)(app)
            else:
                service = build(interface.key, app.config)
        except ConfigurationError as error:
            if str(error).startswith(REFUSAL):
                raise
            raise ConfigurationError(f"{REFUSAL}: {error}") from error
        except (DomainError, RuntimeError, ValueError, TypeError, OSError) as error:
            raise ConfigurationError(
                f"{REFUSAL}: {interface.env} cannot be used: {_message(error)}"
            ) from error
        app.extensions[interface.extension] = service


def find_service(key: str, app: Flask | None = None) -> Any:
    """The service built for interface ``key`` in ``app`` (default: the current app)."""
    app = app if app is not None else current_app
    return app.extensions[INTERFACES[key].extension]


# -- conformance (warehouse's verifyClass) --------------------------------------------------------


def _interface_methods(protocol: type) -> dict[str, Any]:
    abstract = getattr(protocol, "__abstractmethods__", None)
    if abstract:
        return {name: getattr(protocol, name) for name in sorted(abstract)}
    return {
        name: value
        for name, value in vars(protocol).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }


def _shape(function: Any) -> list[tuple[str, Any, bool]]:
    # Names, kinds and which parameters have defaults; annotations are strings here
    # (postponed evaluation) and an implementation may spell them differently.
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in inspect.signature(function).parameters.values()
    ]


def verify_class(protocol: type, cls: type, factory: str | None = "create") -> list[str]:
    """What ``cls`` lacks to implement ``protocol``: each method, with the same parameters,
    and the ``factory(config)`` classmethod that builds it (providers pass None: they are
    built from their typed Config). Empty when it conforms."""
    problems: list[str] = []
    for name, expected in _interface_methods(protocol).items():
        actual = inspect.getattr_static(cls, name, None)
        if actual is None or not callable(getattr(cls, name)):
            problems.append(f"{cls.__name__} has no method {name}()")
            continue
        if getattr(actual, "__isabstractmethod__", False):
            problems.append(f"{cls.__name__}.{name}() is still abstract")
            continue
        if _shape(getattr(cls, name)) != _shape(expected):
            problems.append(
                f"{cls.__name__}.{name}{inspect.signature(getattr(cls, name))} does not "
                f"match {protocol.__name__}.{name}{inspect.signature(expected)}"
            )
    if factory is not None:
        made = inspect.getattr_static(cls, factory, None)
        if not isinstance(made, classmethod):
            problems.append(f"{cls.__name__} has no {factory}(config) classmethod")
        elif [p.name for p in inspect.signature(getattr(cls, factory)).parameters.values()] != [
            "config"
        ]:
            problems.append(f"{cls.__name__}.{factory} must take (config)")
    return problems
