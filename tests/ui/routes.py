"""Access rows of the design system's pages (see tests/test_route_access.py)."""

from tests.route_access import DECIDERS, Row

ROWS = [
    # The living style guide: a tool for staff and the chair.
    Row("dev.components", "GET", "/dev/components", DECIDERS),
]
