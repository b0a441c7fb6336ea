"""Find providers by name and build them from plain configuration.

Providers are plugins: any installed distribution can add one under the entry-point group
`infrawg.providers` (the built-ins register the same way in pyproject.toml), so a new provider
needs no change here. The instances a site uses come from INFRAWG_PROVIDERS; `infrawg.registry`
builds them all in create_app (`configured_providers`), so a bad setting, an unknown provider
or a missing secret stops start-up with a message naming INFRAWG_PROVIDERS.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import types
import typing
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from flask import Flask

from infrawg.errors import DomainError, Invalid, NotFound
from infrawg.provisioning.base import Provider
from infrawg.provisioning.secrets import Secret, resolve_secret

GROUP = "infrawg.providers"

__all__ = [
    "GROUP",
    "ConfiguredProvider",
    "ConfiguredProviders",
    "available_providers",
    "build_config",
    "build_provider",
    "configured_providers",
    "get_provider_class",
    "parse_provider_settings",
    "register_provider",
    "unregister_provider",
]


# Provider classes registered in code (a test's toy provider); packages use entry points.
_REGISTERED: dict[str, type[Provider[Any]]] = {}


def register_provider(cls: type[Provider[Any]]) -> type[Provider[Any]]:
    """Register a provider class under its `name` without an entry point."""
    _REGISTERED[cls.name] = _check(cls.name, cls)
    return cls


def unregister_provider(name: str) -> None:
    _REGISTERED.pop(name, None)


def available_providers() -> dict[str, type[Provider[Any]]]:
    """Every registered provider class by entry-point name, in name order. A provider whose
    optional library is not installed (libvirt's, without the `vm` extra) is left out."""
    found: dict[str, type[Provider[Any]]] = {}
    for name, target in _built_ins().items():
        try:
            found[name] = _check(name, _load(target))
        except ModuleNotFoundError:
            continue
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            loaded = ep.load()
        except ModuleNotFoundError:
            continue
        found[ep.name] = _check(ep.name, loaded)
    found.update(_REGISTERED)
    return dict(sorted(found.items()))


def get_provider_class(name: str) -> type[Provider[Any]]:
    """The provider class registered as `name`; NotFound when there is none."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not matches and name in _built_ins():
        return _check(name, _load(_built_ins()[name]))
    if not matches:
        known = ", ".join(sorted({*_built_ins(), *(ep.name for ep in entry_points(group=GROUP))}))
        raise NotFound(f"No provider named {name!r} is installed (installed: {known}).")
    try:
        loaded = matches[0].load()
    except ModuleNotFoundError as exc:
        raise NotFound(
            f"The provider {name!r} needs {exc.name!r}, which is not installed."
        ) from exc
    return _check(name, loaded)


def _load(target: str) -> Any:
    from infrawg.registry import load

    return load(target)


def _built_ins() -> Mapping[str, str]:
    """Providers that ship with infrawg, found even when the installed entry points are older
    than the code (infrawg.registry lists them, as kinds.BUILT_IN does for kinds)."""
    from infrawg.registry import INTERFACES

    return INTERFACES["providers"].builtins


def _check(name: str, cls: Any) -> type[Provider[Any]]:
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise TypeError(f"Entry point {name!r} in {GROUP} is not a Provider subclass: {cls!r}")
    if cls.name != name:
        # The registry name is what the database stores; a mismatch would orphan resources.
        raise TypeError(f"Provider class {cls.__qualname__} says name={cls.name!r}, not {name!r}")
    return cls


def build_config(config_cls: type, mapping: Mapping[str, Any]) -> Any:
    """Build the provider's typed Config dataclass from a plain mapping (from configuration).

    Secret fields must be references and are resolved now; Path and int fields accept strings
    (configuration usually comes from the environment). Unknown or missing keys are refused.
    """
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"{config_cls!r} is not a dataclass")
    hints = typing.get_type_hints(config_cls)
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise Invalid(f"Unknown setting(s) for this provider: {', '.join(unknown)}.")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in mapping:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise Invalid(f"The provider setting {name!r} is required.")
            continue
        values[name] = _coerce(name, hints[name], mapping[name])
    return config_cls(**values)


def _coerce(name: str, hint: Any, value: Any) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
    if hint is Secret:
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str):
            raise Invalid(f"The setting {name!r} must be a secret reference (env: or file:).")
        return resolve_secret(value)
    if hint is Path:
        return Path(value)
    if hint is bool:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if hint in (int, float):
        try:
            return hint(value)
        except (TypeError, ValueError) as exc:
            raise Invalid(f"The setting {name!r} must be a number, not {value!r}.") from exc
    if hint is str and not isinstance(value, str):
        raise Invalid(f"The setting {name!r} must be text.")
    if typing.get_origin(hint) is tuple and isinstance(value, str | list | tuple):
        return tuple(value.split(",") if isinstance(value, str) else value)
    return value


def build_provider(name: str, config: Mapping[str, Any]) -> Provider[Any]:
    """Look up provider `name`, build its typed config (resolving secrets) and instantiate it."""
    cls = get_provider_class(name)
    return cls(build_config(cls.Config, config))


# -- the site's provider instances (INFRAWG_PROVIDERS) --------------------------------------------


def parse_provider_settings(raw: Any, instance_path: str) -> dict[str, dict[str, Any]]:
    """Provider instances from INFRAWG_PROVIDERS: a mapping, JSON text or a JSON file's path.

    Each name maps to its provider's settings, plus an optional "provider" naming the
    registered provider (default: the name itself). Unset: one `zonefile` provider writing
    under the instance folder.
    """
    if raw is None:
        instance = Path(instance_path)
        return {
            "zonefile": {
                "directory": str(instance / "zones"),
                "key_directory": str(instance / "zone-keys"),
            }
        }
    if isinstance(raw, Mapping):
        data: Any = raw
    else:
        text = str(raw).strip()
        try:
            data = json.loads(text if text.startswith("{") else Path(text).read_text())
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"INFRAWG_PROVIDERS is not JSON nor a JSON file: {exc}") from exc
    if not isinstance(data, Mapping) or not all(isinstance(v, Mapping) for v in data.values()):
        raise RuntimeError("INFRAWG_PROVIDERS must map each provider name to its settings")
    return {str(name): dict(settings) for name, settings in data.items()}


@dataclasses.dataclass(frozen=True)
class ConfiguredProvider:
    """One instance of INFRAWG_PROVIDERS: its name (what a service type stores), its
    registered class and its plain settings (secrets still as references)."""

    name: str
    cls: type[Provider[Any]]
    settings: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return self.cls.kind

    @property
    def capabilities(self) -> frozenset[str]:
        return self.cls.capabilities

    def build(self) -> Provider[Any]:
        """A provider instance, its secrets resolved now (never stored)."""
        return self.cls(build_config(self.cls.Config, self.settings))


class ConfiguredProviders(Mapping[str, ConfiguredProvider]):
    """The site's providers by name, validated when built, and the configuration they
    came from (a test or a command that changes INFRAWG_PROVIDERS gets them rebuilt)."""

    def __init__(self, raw: Any, entries: Mapping[str, ConfiguredProvider]) -> None:
        self._raw = copy.deepcopy(raw)
        self._entries = dict(entries)

    def built_from(self, raw: Any) -> bool:
        return bool(self._raw == raw)

    def __getitem__(self, name: str) -> ConfiguredProvider:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def configured_providers(app: Flask) -> ConfiguredProviders:
    """Build and check every provider INFRAWG_PROVIDERS configures.

    Each is built once (settings typed, secrets resolved) so that start-up, not a request,
    finds the mistake; a ConfigurationError names the setting and the provider.
    """
    from infrawg.startup import ConfigurationError

    raw = app.config.get("PROVIDERS")
    try:
        settings = parse_provider_settings(raw, app.instance_path)
    except RuntimeError as exc:
        raise ConfigurationError(f"infrawg will not start: {exc}") from exc
    entries: dict[str, ConfiguredProvider] = {}
    for name, values in settings.items():
        values = dict(values)
        registered = str(values.pop("provider", name))
        try:
            entry = ConfiguredProvider(name, get_provider_class(registered), values)
            entry.build()
        except (DomainError, ImportError, TypeError, ValueError) as exc:
            message = exc.message if isinstance(exc, DomainError) else str(exc)
            raise ConfigurationError(
                f"infrawg will not start: INFRAWG_PROVIDERS: the provider {name!r} "
                f"({registered}) cannot be built: {message}"
            ) from exc
        entries[name] = entry
    return ConfiguredProviders(raw, entries)
