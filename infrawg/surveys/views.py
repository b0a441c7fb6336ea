"""Pages of surveys."""

from infrawg.surveys import bp  # noqa: F401  (routes are added here)
