"""Route access rows of the development outbox (registered only with the outbox backend)."""

from tests.route_access import PUBLIC, Row

ROWS = [
    Row("notices.outbox", "GET", "/dev/outbox", PUBLIC),
]
