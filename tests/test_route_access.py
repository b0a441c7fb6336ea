"""Every route, as every kind of person: the status each gets is the one in the table.

A route without a row fails this test, so a new page cannot ship without deciding who
may see it. The rows live beside each area's tests (tests/<area>/routes.py).
"""

from __future__ import annotations

from importlib import import_module

import pytest

from infrawg import AREAS
from infrawg.extensions import db, limiter
from infrawg.membership.models import MembershipStatus
from tests.conftest import session_user_id, undone
from tests.route_access import KINDS, Row, World

# Endpoints that are not pages of the site.
NOT_ROUTES = {"static"}


def all_rows() -> list[Row]:
    rows: list[Row] = []
    for area in (*AREAS, "notices", "serving", "ui"):
        try:
            rows.extend(import_module(f"tests.{area}.routes").ROWS)
        except ModuleNotFoundError:
            continue
    return rows


def row_ids(rows: list[Row]) -> list[str]:
    """ "GET membership.profile"; a row whose endpoint another row shares adds its URL (or
    its place among them, when the URL is made from the world)."""
    ids = [f"{row.method} {row.endpoint}" for row in rows]
    shared = {name for name in ids if ids.count(name) > 1}
    seen: dict[str, int] = {}
    for i, (row, name) in enumerate(zip(rows, ids, strict=True)):
        if name in shared:
            seen[name] = seen.get(name, 0) + 1
            ids[i] = f"{name} {row.url}" if isinstance(row.url, str) else f"{name} #{seen[name]}"
    return ids


ROWS = all_rows()


@pytest.fixture
def world(people, request) -> World:
    kinds = {
        "applicant": people.make("Applicant", status=MembershipStatus.AWAITING_APPROVAL),
        "member": people.make("Member"),
        "tenant_member": request.getfixturevalue("tenant_member"),
        "staff": request.getfixturevalue("staff"),
        "chair": request.getfixturevalue("chair"),
        "board": request.getfixturevalue("board"),
        "former_member": people.make("Former", status=MembershipStatus.LEFT),
    }
    world = World(people=kinds)
    for area in AREAS:
        try:
            setup = import_module(f"tests.{area}.routes").populate
        except (ModuleNotFoundError, AttributeError):
            continue
        setup(world)
    return world


def test_every_route_has_a_row_in_the_access_table(app):
    covered = {(row.endpoint, row.method) for row in all_rows()}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_ROUTES:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (rule.endpoint, method) not in covered:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, "routes without a row in the access table:\n" + "\n".join(missing)


@pytest.mark.parametrize("row", ROWS, ids=row_ids(ROWS))
def test_route_answers_each_kind_of_person_as_the_table_says(app, world, row):
    mismatches = []
    # Objects are reloaded inside each undone block: the one before ended their session.
    keys = {name: (type(obj), obj.id) for name, obj in world.people.items()}
    object_keys = {name: (type(obj), obj.id) for name, obj in world.objects.items()}
    for kind in KINDS:
        with undone(app):
            current = World(
                people={n: db.session.get(cls, pk) for n, (cls, pk) in keys.items()},
                objects={n: db.session.get(cls, pk) for n, (cls, pk) in object_keys.items()},
            )
            url = row.url(current) if callable(row.url) else row.url
            limiter.reset()  # the crawl is not an attack; rate limits have their own tests
            client = app.test_client()
            if kind != "anonymous":
                with client.session_transaction() as session:
                    session["_user_id"] = session_user_id(current.people[kind])
            if row.method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, data=row.data or {})
            # Streamed bodies (exports) end their request context when closed.
            response.close()
        if response.status_code != row.expected[kind]:
            mismatches.append(
                f"{row.method} {url} as {kind}: {response.status_code}, "
                f"expected {row.expected[kind]}"
            )
    assert not mismatches, "\n".join(mismatches)
