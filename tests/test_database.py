"""Nothing leaks, nothing is lost: concurrent writers, a restarted or unreachable database.

Live sites on fresh databases of the suite's kind (SQLite file or PostgreSQL), real
concurrent requests over HTTP.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from infrawg import audit, create_app
from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.tenants.models import TenantInvitation
from tests.concurrency import Visitor, live_site, make_person, postgresql_url
from tests.conftest import base_config, make_organisation
from tests.servers.live import LiveSite
from tests.servers.ports import free_port

WRITERS = 10
POSTS_PER_WRITER = 40
SECONDS = 8  # the writers stop after this, however many posts they made


def test_concurrent_writers_get_no_server_error_and_every_write_lands(tmp_path):
    # SQLite answered "database is locked" (500) to 1,012 of 1,641 such writes: deferred
    # transactions that read, then write, cannot wait for the lock. Also on PostgreSQL.
    with live_site(tmp_path) as site:
        with site.app.app_context():
            liaisons = [make_person(f"Writer {n}", f"writer{n}@example.org") for n in range(10)]
            make_organisation("Busy WG", *liaisons)
            emails = [p.email for p in liaisons]
        visitors = [Visitor(site.url).sign_in(email) for email in emails]
        for visitor in visitors:
            visitor.get("/organisations/busy-wg")
        deadline = time.monotonic() + SECONDS
        stop = threading.Event()

        def write(n: int) -> Counter:
            statuses: Counter = Counter()
            for i in range(POSTS_PER_WRITER):
                if time.monotonic() > deadline:
                    break
                response = visitors[n].post(
                    "/organisations/busy-wg/invite", {"email": f"guest{n}-{i}@example.org"}
                )
                statuses[response.status_code] += 1
                # A reader between writes: pages are read while others write.
                statuses[visitors[n].get("/organisations/busy-wg").status_code] += 1
                # A refused read is audited: a GET that writes after all.
                statuses[visitors[n].get("/board").status_code] += 1
            return statuses

        def job_worker() -> int:
            # Like the embedded worker: writes outside any request, in its own transactions.
            written = 0
            while not stop.is_set() and written < 500:
                with site.app.app_context():
                    audit.record(None, "test.worker_tick", None, f"tick {written}")
                    db.session.commit()
                    db.session.remove()
                written += 1
                time.sleep(0.01)
            return written

        with ThreadPoolExecutor(max_workers=WRITERS + 1) as pool:
            worker = pool.submit(job_worker)
            results = list(pool.map(write, range(WRITERS)))
            stop.set()
            ticks = worker.result()

        statuses = sum(results, Counter())
        server_errors = {status: n for status, n in statuses.items() if status >= 500}
        assert not server_errors, f"5xx under concurrent writes: {dict(statuses)}"
        posted = sum(
            n for r in results for status, n in r.items() if status == 303
        )  # each invite answers 303
        assert posted >= WRITERS * 3, f"the writers barely wrote: {dict(statuses)}"
        with site.app.app_context():
            invitations = db.session.scalar(
                sa.select(sa.func.count()).select_from(TenantInvitation)
            )
            worker_events = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "test.worker_tick")
            )
            # Refusals are throttled into few rows, each counting the repeats it stands for.
            refusals = db.session.scalar(
                sa.select(sa.func.sum(1 + AuditEvent.repeats)).where(AuditEvent.action == "refused")
            )
        assert invitations == posted, "every acknowledged write is in the database"
        assert refusals == statuses[403], "every refused read is in the audit trail"
        assert worker_events == ticks


def signed_in_visitor(site: LiveSite) -> tuple[Visitor, str]:
    with site.app.app_context():
        person = make_person("Rita Restart", "rita@example.org")
        db.session.commit()
        email = person.email
    return Visitor(site.url).sign_in(email), email


def terminate_connections(database_url: str) -> int:
    """Kill every server process serving the site's database (as a restart would)."""
    url = sa.make_url(database_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": url.database},
                ).all()
            )
    finally:
        admin.dispose()


@pytest.mark.skipif(postgresql_url() is None, reason="terminates PostgreSQL server processes")
def test_pool_pre_ping_a_restarted_database_costs_no_request(tmp_path):
    with live_site(tmp_path) as site:
        visitor, _ = signed_in_visitor(site)
        database_url = site.app.config["SQLALCHEMY_DATABASE_URI"]
        for round_no in range(3):
            assert visitor.get("/dashboard").status_code == 200
            assert Visitor(site.url).get("/goals").status_code == 200
            assert terminate_connections(database_url) >= 1, "the pool held a connection"
            # The pooled connections are dead; pre-ping replaces them before use.
            response = visitor.get("/dashboard")
            assert response.status_code == 200, f"round {round_no}: {response.status_code}"
            assert Visitor(site.url).get("/goals").status_code == 200


@contextmanager
def database_refusing_connections(site: LiveSite):
    """The site's own database stops accepting connections, then comes back."""
    url = sa.make_url(site.app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        # SQLite: the same site, its file now in a directory that is gone.
        gone = create_app(
            base_config(f"sqlite:///{site.app.instance_path}/gone/infrawg.sqlite")
            | {"RATELIMIT_SIGNIN": "10000 per minute"}
        )
        down = LiveSite(gone).start()
        try:
            yield down.url
        finally:
            down.stop()
        return
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false')
        terminate_connections(url.render_as_string(hide_password=False))
        yield site.url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true')
        admin.dispose()


def assert_unavailable_page(response, fragment: bool = False) -> None:
    assert response.status_code == 503, response.text[-600:]
    assert int(response.headers["Retry-After"]) > 0
    page = BeautifulSoup(response.text, "html.parser")
    # A whole page, or for htmx the inline error block its control shows (fragments.py).
    box = page.select_one(".fragment-error" if fragment else ".error-page")
    title = box.select_one(".error-summary__title" if fragment else "h1")
    assert "briefly unavailable" in title.text
    assert "try again in" in box.select_one(".message").text
    assert (page.select_one("html") is None) == fragment


def test_unreachable_database_answers_503_with_retry_after_for_everyone(tmp_path):
    with live_site(tmp_path) as site:
        visitor, _ = signed_in_visitor(site)
        cookies = visitor.http.cookies
        with database_refusing_connections(site) as url:
            anonymous = Visitor(url)
            assert_unavailable_page(anonymous.get("/goals"))
            assert_unavailable_page(
                anonymous.post("/signin", {"email": "rita@example.org", "password": "x"})
            )
            signed_in = Visitor(url)
            signed_in.http.cookies.update(cookies)
            signed_in.token = visitor.token
            # The error page used to load the signed-in person, and failed itself.
            assert_unavailable_page(signed_in.get("/dashboard"))
            assert_unavailable_page(
                signed_in.get("/dashboard", headers={"HX-Request": "true"}), fragment=True
            )
            assert_unavailable_page(
                signed_in.post("/account/leave", {"reason": "x", "confirmed": "1"})
            )
        if url == site.url:
            # PostgreSQL is back: the same site serves the same visitor again.
            assert visitor.get("/dashboard").status_code == 200


def test_a_closed_database_port_answers_503_not_a_hang(tmp_path):
    port = free_port()  # nothing listens there
    app = create_app(base_config(f"postgresql+psycopg://postgres@127.0.0.1:{port}/gone"))
    site = LiveSite(app).start()
    try:
        started = time.monotonic()
        assert_unavailable_page(Visitor(site.url).get("/goals"))
        assert time.monotonic() - started < 10
    finally:
        site.stop()
