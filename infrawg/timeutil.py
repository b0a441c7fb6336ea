"""Time helpers: the database stores naive UTC, the same on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    """Today's date in UTC, the day the surveys' dates are compared with."""
    return utcnow().date()
