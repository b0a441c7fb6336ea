"""Pages of tenants."""

from infrawg.tenants import bp  # noqa: F401  (routes are added here)
