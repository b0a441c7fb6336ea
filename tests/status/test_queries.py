"""The notice lists run the same queries for a few notices as for many (no N+1)."""

from __future__ import annotations

from datetime import timedelta

from infrawg.extensions import db
from infrawg.status import service as notices
from infrawg.status.models import NoticeKind
from infrawg.timeutil import utcnow
from tests.conftest import html
from tests.queries import counted_queries
from tests.status.conftest import make_service


def _announce(staff, *services, hours: int = 24):
    notices.announce(
        staff,
        notices.NoticeInput(
            NoticeKind.MAINTENANCE,
            "Upgrade",
            "What",
            "Impact",
            "Public",
            utcnow() + timedelta(hours=hours),
            None,
            [s.id for s in services],
        ),
    )
    db.session.commit()


def _queries(client, path: str) -> tuple[int, object]:
    with counted_queries() as statements:
        response = client.get(path)
    assert response.status_code == 200
    return len(statements), html(response)


def test_notice_lists_have_no_n_plus_one(client, people, staff, tenants):
    _announce(staff, tenants.service_a)
    _announce(staff, tenants.service_a, tenants.service_b, hours=-1)
    pages = {"/status/notices": staff, "/status/mine": tenants.ann, "/status": None}
    few = {}
    for path, person in pages.items():
        if person is not None:
            people.sign_in(client, person)
        few[path] = _queries(client, path)[0]
    extra = make_service(tenants.org_a, "more.example.org.", tenants.abe)
    for hours in range(2, 8):
        _announce(staff, tenants.service_a, extra, hours=hours)
    for path, person in pages.items():
        if person is not None:
            people.sign_in(client, person)
        many, page = _queries(client, path)
        assert many == few[path], path
    assert len(page.select(".notice")) == 8  # /status: every open notice, one query
