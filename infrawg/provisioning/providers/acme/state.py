"""What the ACME engine works with: the DNS-01 solver it depends on, its configuration, the
order state a job carries between calls (JSON, no secrets), and what a poll returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from infrawg.jobs import Pending
from infrawg.provisioning.kinds.dns.capabilities import DnsChallengeSolver
from infrawg.provisioning.secrets import Secret

__all__ = [
    "AcmeConfig",
    "ChallengeTargets",
    "Dns01Challenge",
    "DnsChallengeSolver",
    "IssuedCertificate",
    "OrderFailed",
    "OrderState",
    "PollResult",
    "RenewalDecision",
    "renewal_point",
]


# -- what the engine depends on --------------------------------------------------------------


# One protocol for DNS-01, the DNS providers' own (kinds/dns/capabilities.py): TXT values by
# zone and owner. The engine is told, per owner, which solver serves it and in which zone.
ChallengeTargets = Callable[[str], tuple[DnsChallengeSolver, str]]
"""owner ("_acme-challenge.example.org.") -> (the solver serving its zone, that zone)"""


@dataclass(frozen=True)
class AcmeConfig:
    """One ACME CA account.

    `key_directory` holds `account.pem` (unless `account_key` is a secret reference to the
    account's PEM key) and the keys of orders in flight. `ca_identities` are the issuer domain
    names the CA checks in CAA records (Let's Encrypt: "letsencrypt.org"). `ca_bundle` is a
    PEM file to verify the CA's HTTPS certificate with, for a private or test CA.
    """

    directory_url: str
    key_directory: Path
    ca_identities: tuple[str, ...] = ()
    account_key: Secret | None = None
    contact_email: str = ""
    ca_bundle: str = ""
    timeout: int = 30


# -- the order's state between job calls ------------------------------------------------------


@dataclass(frozen=True)
class Dns01Challenge:
    """One name's DNS-01 challenge: publish `value` as TXT at `owner`."""

    identifier: str  # "example.org" or "*.example.org"
    owner: str  # "_acme-challenge.example.org."
    value: str
    token: str
    challenge_url: str
    authorization_url: str


@dataclass(frozen=True)
class OrderState:
    """An order in flight, as JSON for a job's arguments or a database column.

    No secret is in it: `key_file` is the path of the certificate's private key.
    """

    order_url: str
    names: tuple[str, ...]
    challenges: tuple[Dns01Challenge, ...]
    key_file: str

    def txt_records(self) -> dict[str, tuple[str, ...]]:
        """The TXT values to publish, per owner (an apex and its wildcard share one owner)."""
        records: dict[str, list[str]] = {}
        for challenge in self.challenges:
            records.setdefault(challenge.owner, []).append(challenge.value)
        return {owner: tuple(values) for owner, values in records.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "order_url": self.order_url,
            "names": list(self.names),
            "challenges": [vars(c) for c in self.challenges],
            "key_file": self.key_file,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderState:
        return cls(
            order_url=str(data["order_url"]),
            names=tuple(data["names"]),
            challenges=tuple(Dns01Challenge(**c) for c in data["challenges"]),
            key_file=str(data["key_file"]),
        )


# -- what a poll returns --------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCertificate:
    """The certificate, its chain up to (not including) the root, and its private key."""

    names: tuple[str, ...]
    fullchain_pem: str
    private_key: Secret
    not_before: datetime
    not_after: datetime
    serial: int

    @property
    def chain(self) -> list[x509.Certificate]:
        """Leaf first, then the intermediates, as the CA sent them."""
        return x509.load_pem_x509_certificates(self.fullchain_pem.encode())

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class OrderFailed:
    """The CA refused: `message` in words a tenant can act on, `problem` as the CA sent it."""

    message: str
    problem: Mapping[str, Any] = field(default_factory=dict)


PollResult = Pending | IssuedCertificate | OrderFailed


@dataclass(frozen=True)
class RenewalDecision:
    """Whether to renew now, from when, and why (`source` is "lifetime" or "ari")."""

    due: bool
    renew_at: datetime
    reason: str
    source: str

    def __bool__(self) -> bool:
        return self.due


def renewal_point(not_before: datetime, not_after: datetime) -> datetime:
    """When a third of the lifetime is left (day 60 of a 90-day certificate)."""
    return not_after - (not_after - not_before) / 3
