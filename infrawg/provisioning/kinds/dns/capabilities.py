"""Typed capabilities of DNS providers: protocols, found with `base.supports`, not strings."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class DnsChallengeSolver(Protocol):
    """Adds and removes single TXT values (ACME DNS-01) and waits until the authoritative
    servers answer with one. Other values at the same name stay: the apex and wildcard
    challenges of one order share `_acme-challenge.<zone>`."""

    def add_txt(self, zone: str, name: str, value: str, ttl: int = 60) -> None: ...

    def remove_txt(self, zone: str, name: str, value: str) -> None: ...

    def wait_for_txt(self, zone: str, name: str, value: str, timeout: float = 60.0) -> bool: ...
