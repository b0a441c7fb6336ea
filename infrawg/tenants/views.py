"""Pages of tenants."""

from infrawg.tenants import bp, models  # noqa: F401  (routes are added here)
