"""Expected status of every route for every kind of person (see tests/test_route_access.py).

Each area keeps its rows in ``tests/<area>/routes.py`` as ``ROWS: list[Row]``; this module
holds the shapes and the common profiles. A row's ``url`` is a path, or a function of the
``World`` (the people and objects of the crawl) returning one, for routes with ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "anonymous",
    "applicant",
    "member",
    "tenant_member",
    "staff",
    "chair",
    "board",
    "former_member",
)


@dataclass
class World:
    """The people (one of each kind) and any objects areas add for URLs with ids."""

    people: dict[str, Any]
    objects: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    endpoint: str
    method: str
    url: str | Callable[[World], str]
    expected: dict[str, int]
    data: dict[str, Any] | None = None  # form data for POST (CSRF token added)


def profile(default: int, **by_kind: int) -> dict[str, int]:
    expected = dict.fromkeys(KINDS, default)
    expected.update(by_kind)
    return expected


# Common shapes. 302 = sent to sign in; 403 = signed in but not allowed.
PUBLIC = profile(200)
SIGNED_IN = profile(200, anonymous=302)
MEMBERS = profile(200, anonymous=302, applicant=403, board=403, former_member=403)
DECIDERS = profile(403, anonymous=302, staff=200, chair=200)
CHAIR = profile(403, anonymous=302, chair=200)


def post_profile(allowed: set[str], ok: int, refused: int = 403) -> dict[str, int]:
    """For a POST: ``ok`` for the allowed kinds, ``refused`` for the others, 302 anonymous."""
    expected = {kind: (ok if kind in allowed else refused) for kind in KINDS}
    expected["anonymous"] = 302
    return expected
