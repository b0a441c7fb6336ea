"""One cleaner for free text that a person typed: trimmed, required or not, bounded.

Each service states a field's limit once, where it calls ``clean``.
"""

from __future__ import annotations

from infrawg.errors import Invalid

MAX_TEXT = 2000


def clean(
    value: str | None,
    required: str | None = None,
    *,
    limit: int = MAX_TEXT,
    field: str | None = None,
) -> str:
    """``value`` trimmed; ``Invalid(required)`` when it is empty and ``required`` is a message;
    ``Invalid`` when it is longer than ``limit``. ``field`` names the form field the message
    belongs on (see ``web.submit``)."""
    value = (value or "").strip()
    if required and not value:
        raise Invalid(required, field=field)
    if len(value) > limit:
        raise Invalid(f"Keep it under {limit} characters.", field=field)
    return value
