"""Pages of provisioning."""

from infrawg.provisioning import bp  # noqa: F401  (routes are added here)
