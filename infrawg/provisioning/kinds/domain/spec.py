"""The domain kind's desired state (R10): what the site holds about a registration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from infrawg.provisioning.base import Spec


@dataclass(frozen=True)
class DomainSpec(Spec):
    kind: ClassVar[str] = "domain"

    domain: str
    registrar: str = ""
    expires_on: str = ""  # ISO date, "" when not known yet
    auto_renew: bool = False

    @property
    def ref(self) -> str:
        return self.domain

    def items(self) -> dict[str, Any]:
        return {
            "registrar": self.registrar,
            "expires_on": self.expires_on,
            "auto_renew": self.auto_renew,
        }
