"""Alerts coming back: Alertmanager's webhook payload (version 4) as typed events, and the
token check for the endpoint that receives it.

The route is not here: the incident area owns it. Its view calls
`read_webhook(request.headers.get("Authorization"), request.get_data(), configured_token)`
(NotAllowed for a wrong token, Invalid for a body that is not Alertmanager's), then, for each
`AlertEvent` with a `service`: firing opens the incident on that service keyed by
`incident_key` (Alertmanager repeats a firing alert every repeat_interval, so opening must be
idempotent) with the R5 notice to its tenant members; resolved closes the incident with that
key. Alerts without a `service` label are about the monitoring itself, not a tenant.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from infrawg.errors import Invalid, NotAllowed
from infrawg.provisioning.secrets import Secret

__all__ = [
    "AlertEvent",
    "AlertStatus",
    "WebhookNotification",
    "bearer_token",
    "parse_webhook",
    "read_webhook",
    "token_matches",
]

MAX_BODY = 1024 * 1024  # Alertmanager truncates long groups; a larger body is not one of its


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class AlertEvent:
    """One alert of a notification. `fingerprint` identifies the alert across its firing and
    its resolution (the incident's key); `organisation` and `service` come from the target's
    labels and are None for alerts not about a tenant's service."""

    status: AlertStatus
    name: str
    fingerprint: str
    starts_at: datetime
    ends_at: datetime | None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    generator_url: str = ""

    @property
    def organisation(self) -> str | None:
        return self.labels.get("organisation")

    @property
    def service(self) -> str | None:
        return self.labels.get("service")

    @property
    def instance(self) -> str | None:
        return self.labels.get("instance")

    @property
    def summary(self) -> str:
        return self.annotations.get("summary") or f"{self.name} on {self.instance or '?'}"

    @property
    def firing(self) -> bool:
        return self.status is AlertStatus.FIRING

    @property
    def incident_key(self) -> str:
        """The same alert firing again after it resolved is a new incident: the fingerprint
        (a hash of the labels) is the same, the start is not."""
        return f"{self.fingerprint}@{self.starts_at.isoformat()}"


@dataclass(frozen=True)
class WebhookNotification:
    """One POST from Alertmanager: a group of alerts that share `group_labels`."""

    status: AlertStatus
    receiver: str
    group_key: str
    alerts: tuple[AlertEvent, ...]
    group_labels: Mapping[str, str] = field(default_factory=dict)
    truncated_alerts: int = 0


def parse_webhook(body: bytes | str | Mapping[str, Any]) -> WebhookNotification:
    """Parse Alertmanager's webhook payload (version "4"); Invalid saying what is wrong."""
    if isinstance(body, bytes | str):
        if len(body) > MAX_BODY:
            raise Invalid("The alert notification is too large.")
        try:
            data: Any = json.loads(body)
        except ValueError as exc:
            raise Invalid(f"The alert notification is not JSON: {exc}") from exc
    else:
        data = body
    if not isinstance(data, Mapping):
        raise Invalid("The alert notification must be a JSON object.")
    if str(data.get("version")) != "4":
        raise Invalid(f"Unsupported Alertmanager webhook version {data.get('version')!r} (not 4).")
    raw_alerts = data.get("alerts")
    if not isinstance(raw_alerts, list):
        raise Invalid("The alert notification has no list of alerts.")
    return WebhookNotification(
        status=_status(data.get("status")),
        receiver=str(data.get("receiver", "")),
        group_key=str(data.get("groupKey", "")),
        alerts=tuple(_alert(a, i) for i, a in enumerate(raw_alerts)),
        group_labels=_strings(data.get("groupLabels"), "groupLabels"),
        truncated_alerts=int(data.get("truncatedAlerts") or 0),
    )


def _alert(raw: Any, index: int) -> AlertEvent:
    if not isinstance(raw, Mapping):
        raise Invalid(f"Alert {index} is not an object.")
    labels = _strings(raw.get("labels"), f"alert {index} labels")
    name = labels.get("alertname")
    if not name:
        raise Invalid(f"Alert {index} has no alertname label.")
    fingerprint = raw.get("fingerprint")
    if not isinstance(fingerprint, str) or not re.fullmatch(r"[0-9a-f]{1,64}", fingerprint):
        raise Invalid(f"Alert {index} has no valid fingerprint.")
    starts_at = _time(raw.get("startsAt"), f"alert {index} startsAt")
    if starts_at is None:
        raise Invalid(f"Alert {index} has no startsAt.")
    return AlertEvent(
        status=_status(raw.get("status")),
        name=name,
        fingerprint=fingerprint,
        starts_at=starts_at,
        ends_at=_time(raw.get("endsAt"), f"alert {index} endsAt"),
        labels=labels,
        annotations=_strings(raw.get("annotations"), f"alert {index} annotations"),
        generator_url=str(raw.get("generatorURL", "")),
    )


def _status(value: Any) -> AlertStatus:
    try:
        return AlertStatus(value)
    except ValueError:
        raise Invalid(f"Unknown alert status {value!r} (firing or resolved).") from None


def _strings(value: Any, what: str) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise Invalid(f"The {what} must map text to text.")
    return MappingProxyType(dict(value))


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _time(value: Any, what: str) -> datetime | None:
    """RFC 3339 as Go writes it (nanoseconds, Z). Go's zero time means "not set"."""
    if value in (None, "") or (isinstance(value, str) and value.startswith("0001-01-01")):
        return None
    if not isinstance(value, str):
        raise Invalid(f"The {what} is not a time.")
    text = _FRACTION.sub(r"\1", value.replace("Z", "+00:00").replace("z", "+00:00"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"The {what} {value!r} is not an RFC 3339 time.") from None
    if parsed.tzinfo is None:
        raise Invalid(f"The {what} {value!r} has no time zone.")
    return parsed.astimezone(UTC)


def read_webhook(
    authorization: str | None, body: bytes | str, token: Secret | str
) -> WebhookNotification:
    """The webhook endpoint's whole check: the bearer token first (NotAllowed, and nothing
    about the body is looked at), then the payload (Invalid saying what is wrong)."""
    if not token_matches(bearer_token(authorization), token):
        raise NotAllowed("The alert webhook token is missing or wrong.")
    return parse_webhook(body)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when absent or another
    scheme."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_matches(given: str | None, expected: Secret | str) -> bool:
    """Whether the presented token is the configured one, in constant time. An empty
    configured token never matches (an unset setting must not open the endpoint)."""
    want = expected.reveal() if isinstance(expected, Secret) else expected
    if not want or given is None:
        return False
    return hmac.compare_digest(given.encode(), want.encode())
