"""Signed, expiring tokens for links sent by mail (confirm, reset, invite)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from infrawg.errors import Invalid


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"infrawg.{purpose}")


def make_token(purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: int | None = None) -> dict[str, Any]:
    """The payload of a token made for ``purpose``; Invalid when expired or tampered."""
    age = max_age if max_age is not None else current_app.config["TOKEN_MAX_AGE"]
    try:
        payload = _serializer(purpose).loads(token, max_age=age)
    except SignatureExpired:
        raise Invalid("This link has expired. Ask for a new one.") from None
    except BadSignature:
        raise Invalid("This link is not valid. Check that you copied all of it.") from None
    if not isinstance(payload, dict):
        raise Invalid("This link is not valid. Check that you copied all of it.")
    return payload
