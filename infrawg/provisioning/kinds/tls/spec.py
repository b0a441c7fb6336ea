"""A certificate's desired state (R12): its names. Wildcards only with DNS-01, which is the
only challenge this site answers; the names are checked and normalised here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from infrawg.errors import Invalid
from infrawg.provisioning.base import Spec
from infrawg.provisioning.providers.acme import normalise_names

MAX_NAMES = 20


def parse_names(text: str | list[str]) -> tuple[str, ...]:
    """Names from the request form (one a line), checked: at most MAX_NAMES, each a DNS name,
    `*.` only as the whole first label (a DNS-01 wildcard)."""
    lines = text.splitlines() if isinstance(text, str) else list(text)
    names = [line.strip().lower().rstrip(".") for line in lines if line.strip()]
    if not names:
        raise Invalid("Give at least one name, one a line.", field="names")
    if len(names) > MAX_NAMES:
        raise Invalid(f"At most {MAX_NAMES} names in one certificate.", field="names")
    for name in names:
        if "*" in name.removeprefix("*."):
            raise Invalid(
                f"{name}: a wildcard is allowed only as the first label (*.example.org).",
                field="names",
            )
        if "." not in name.removeprefix("*."):
            raise Invalid(f"{name} is not a full DNS name.", field="names")
    try:
        return tuple(normalise_names(names))
    except Invalid as exc:
        raise Invalid(exc.message, field="names") from exc


@dataclass(frozen=True)
class CertificateSpec(Spec):
    kind: ClassVar[str] = "tls"

    service_id: int
    names: tuple[str, ...]

    @property
    def ref(self) -> str:
        return str(self.service_id)

    def items(self) -> dict[str, Any]:
        return {"names": list(self.names)}
