"""Pages of archives."""

from infrawg.archives import bp  # noqa: F401  (routes are added here)
