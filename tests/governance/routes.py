"""Route access rows of the governance area (see tests/route_access.py)."""

from tests.route_access import MEMBERS, Row

ROWS = [
    Row("governance.audit_trail", "GET", "/audit", MEMBERS),
]
