"""What a tenant member describes about an application (R14), typed and checked on construction.

Every field is data. The generator turns it into Ruby only through `ruby.literal`, and the only
Ruby a configuration template may hold is an output tag naming one of the application's own
attributes (`<%= @port %>`), so nothing a tenant types is ever executed by Chef.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infrawg.errors import Invalid

__all__ = [
    "AppSpec",
    "Attribute",
    "AttributeValue",
    "ConfigTemplate",
    "Port",
    "ServiceUnit",
    "template_variables",
]

AttributeValue = str | int | float | bool | tuple[str | int, ...]

COOKBOOK_NAME = re.compile(r"^[a-z][a-z0-9_]{1,59}$")
# Chef cookbook versions are three integers (x.y.z): semver without pre-release or build parts.
VERSION = re.compile(r"^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$")
ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]{1,99}$")  # Debian policy 5.6.1
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
ACCOUNT_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
MODE = re.compile(r"^0?[0-7]{3}$")
PLATFORM = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
CHEF_VERSION = re.compile(r"^(>=|~>|=|>|<|<=) ?[0-9]+(\.[0-9]+){0,2}$")
LICENSE = re.compile(r"^[A-Za-z0-9.+-]{2,64}$")  # an SPDX identifier or "All Rights Reserved"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The one ERB tag a template may contain: `<%= @name %>`; `<%%` writes a literal `<%`.
_TAG = re.compile(r"<%(?!%)(.*?)(%>|$)", re.S)
_VARIABLE_TAG = re.compile(r"^=\s*@([a-z][a-z0-9_]*)\s*$")
MAX_FILE = 64 * 1024


def _text(value: str, field: str, *, limit: int = 200, required: bool = True) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text.", field=field)
    value = value.strip()
    if required and not value:
        raise Invalid(f"Give the {field.replace('_', ' ')}.", field=field)
    if len(value) > limit:
        raise Invalid(f"Keep {field.replace('_', ' ')} under {limit} characters.", field=field)
    if any(ord(ch) < 32 for ch in value):
        raise Invalid(f"{field} must be one line of text.", field=field)
    return value


def _match(pattern: re.Pattern[str], value: str, field: str, message: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise Invalid(f"{value!r} is not a valid {field.replace('_', ' ')}: {message}", field=field)
    return value


def _absolute_path(value: str, field: str) -> str:
    value = _text(value, field, limit=255)
    if not value.startswith("/") or posixpath.normpath(value) != value or value == "/":
        raise Invalid(
            f"{value!r} must be an absolute, normalised path (no '..', no trailing '/').",
            field=field,
        )
    return value


def template_variables(content: str, *, field: str = "content") -> tuple[str, ...]:
    """The attribute names a template's `<%= @name %>` tags use, in order of first use.

    Any other ERB tag (`<% code %>`, `<%== %>`, an unclosed `<%`) is refused: a template carries
    values, never Ruby.
    """
    names: list[str] = []
    for tag in _TAG.finditer(content):
        inner, close = tag.group(1), tag.group(2)
        match = _VARIABLE_TAG.match(inner) if close else None
        if match is None:
            raise Invalid(
                f"Only tags of the form <%= @attribute %> may appear in a template, "
                f"found {tag.group(0)[:40]!r}; write <%% for a literal <%.",
                field=field,
            )
        if match.group(1) not in names:
            names.append(match.group(1))
    return tuple(names)


@dataclass(frozen=True)
class Attribute:
    """A node attribute with its default (`default['<cookbook>']['<name>']`)."""

    name: str
    default: AttributeValue

    def __post_init__(self) -> None:
        _match(ATTRIBUTE_NAME, self.name, "attribute_name", "lower-case letters, digits and _")
        value = self.default
        if isinstance(value, list):
            value = tuple(value)
            object.__setattr__(self, "default", value)
        if isinstance(value, tuple):
            if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
                raise Invalid(f"A list attribute ({self.name}) holds text or whole numbers.")
            items: Iterable[Any] = value
        elif isinstance(value, str | int | float | bool):
            items = (value,)
        else:
            raise Invalid(f"{self.name}'s default must be text, a number, true/false or a list.")
        for item in items:
            if isinstance(item, float) and (item != item or item in (float("inf"), -float("inf"))):
                raise Invalid(f"{self.name}'s default must be a finite number.")
            if isinstance(item, str) and len(item) > 4096:
                raise Invalid(f"Keep {self.name}'s default under 4096 characters.")


@dataclass(frozen=True)
class Port:
    """A port the application listens on, opened in the firewall and tested by InSpec."""

    number: int
    protocol: str = "tcp"

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, int):
            raise Invalid("A port is a whole number.", field="ports")
        if not 1 <= self.number <= 65535:
            raise Invalid(f"Port {self.number} is not between 1 and 65535.", field="ports")
        if self.protocol not in ("tcp", "udp"):
            raise Invalid(f"Protocol {self.protocol!r} is not tcp or udp.", field="ports")


@dataclass(frozen=True)
class ServiceUnit:
    """The service to run: a command (a systemd unit is generated for it) or a unit of its own.

    `name` is the systemd unit's name without `.service`.
    """

    name: str
    command: str = ""
    unit: str = ""
    user: str = "root"
    working_directory: str = ""

    def __post_init__(self) -> None:
        _match(SERVICE_NAME, self.name, "service_name", "lower-case letters, digits, - and _")
        _match(ACCOUNT_NAME, self.user, "service_user", "a system account name")
        if bool(self.command.strip()) == bool(self.unit.strip()):
            raise Invalid("Give either the command to run or a systemd unit, not both.")
        if self.command:
            # One line: a newline would add directives to the generated unit.
            object.__setattr__(self, "command", _text(self.command, "command", limit=1000))
        if self.unit and len(self.unit) > MAX_FILE:
            raise Invalid("Keep the systemd unit under 64 KiB.", field="unit")
        if self.working_directory:
            _absolute_path(self.working_directory, "working_directory")


@dataclass(frozen=True)
class ConfigTemplate:
    """A configuration file written from an ERB template whose variables are attributes."""

    path: str
    content: str
    owner: str = "root"
    group: str = "root"
    mode: str = "0644"

    def __post_init__(self) -> None:
        _absolute_path(self.path, "template_path")
        _match(ACCOUNT_NAME, self.owner, "owner", "a system account name")
        _match(ACCOUNT_NAME, self.group, "group", "a system group name")
        _match(MODE, self.mode, "mode", "three or four octal digits, such as 0644")
        object.__setattr__(self, "mode", self.mode.rjust(4, "0"))
        if len(self.content) > MAX_FILE:
            raise Invalid("Keep a template under 64 KiB.", field="content")
        template_variables(self.content)

    @property
    def source(self) -> str:
        """The template's file name in the cookbook, `templates/<source>`."""
        return posixpath.basename(self.path) + ".erb"

    @property
    def variables(self) -> tuple[str, ...]:
        return template_variables(self.content)


@dataclass(frozen=True)
class AppSpec:
    """An application described by a tenant member: one version of its cookbook (R14)."""

    name: str
    version: str
    maintainer: str
    maintainer_email: str
    description: str
    license: str = "Apache-2.0"
    packages: tuple[str, ...] = ()
    service: ServiceUnit | None = None
    ports: tuple[Port, ...] = ()
    templates: tuple[ConfigTemplate, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    vm: str = ""  # the VM it runs on; the node the operators converge, not part of the cookbook
    supports: tuple[str, ...] = ("debian", "ubuntu")
    chef_version: str = ">= 17.0"

    def __post_init__(self) -> None:
        _match(COOKBOOK_NAME, self.name, "name", "2-60 lower-case letters, digits and _")
        _match(VERSION, self.version, "version", "three numbers such as 1.0.0")
        _text(self.maintainer, "maintainer")
        _match(EMAIL, self.maintainer_email, "maintainer_email", "an email address")
        _text(self.description, "description", limit=500)
        _match(LICENSE, self.license.replace(" ", "-"), "license", "an SPDX identifier")
        _match(CHEF_VERSION, self.chef_version, "chef_version", "a constraint such as >= 17.0")
        for tuple_field in ("packages", "ports", "templates", "attributes", "supports"):
            object.__setattr__(self, tuple_field, tuple(getattr(self, tuple_field)))
        for package in self.packages:
            _match(PACKAGE_NAME, package, "package", "a Debian package name")
        if len(set(self.packages)) != len(self.packages):
            raise Invalid("Each package may be listed once.", field="packages")
        if not self.supports:
            raise Invalid("Name at least one platform.", field="supports")
        for platform in self.supports:
            _match(PLATFORM, platform, "platform", "a platform name such as debian")
        names = [a.name for a in self.attributes]
        if len(set(names)) != len(names):
            raise Invalid("Each attribute may be defined once.", field="attributes")
        for what, keys in (
            ("path", [t.path for t in self.templates]),
            ("file name", [t.source for t in self.templates]),
            ("port", [(p.number, p.protocol) for p in self.ports]),
        ):
            if len(set(keys)) != len(keys):
                raise Invalid(f"Two templates or ports share a {what}.", field="templates")
        for template in self.templates:
            unknown = [v for v in template.variables if v not in names]
            if unknown:
                raise Invalid(
                    f"{template.path} uses {', '.join('@' + v for v in unknown)}, "
                    "which is not one of the attributes.",
                    field="templates",
                )

    def attribute(self, name: str) -> Attribute:
        return next(a for a in self.attributes if a.name == name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data, to store a version; `from_dict` checks all of it again."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppSpec:
        """The spec `to_dict` (or a form, or a stored version) describes, validated."""
        values = dict(data)
        try:
            service = values.get("service")
            values["service"] = ServiceUnit(**service) if service else None
            values["ports"] = tuple(Port(**p) for p in values.get("ports", ()))
            values["templates"] = tuple(ConfigTemplate(**t) for t in values.get("templates", ()))
            values["attributes"] = tuple(
                Attribute(a["name"], a["default"]) for a in values.get("attributes", ())
            )
            return cls(**values)
        except (TypeError, KeyError) as exc:
            raise Invalid(f"This is not an application description: {exc}") from exc
