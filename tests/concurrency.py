"""Real concurrent requests: a live site on a database of its own, visitors over HTTP.

The per-test savepoint session cannot see concurrency (one connection, one thread), so
these tests serve the app with werkzeug in a thread (`LiveSite`) on a fresh database of
the suite's kind and send requests from many threads at once with `requests`.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp
import requests

from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus, Person, RecoveryCode, TotpFactor
from tests.conftest import PASSWORD, migrated_app, password_hash
from tests.servers.live import LiveSite, fresh_database

TIMEOUT = 30  # seconds, per request: a hung request fails the test instead of the run
CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')
# Many sign-ins from 127.0.0.1 in a few seconds are the test, not an attack.
LIVE_CONFIG = {"RATELIMIT_SIGNIN": "10000 per minute"}


def postgresql_url() -> str | None:
    url = os.environ.get("INFRAWG_TEST_DATABASE_URL")
    return url if url and url.startswith("postgresql") else None


@contextmanager
def live_site(tmp_path: Path, **config: Any) -> Iterator[LiveSite]:
    """The app served on a loopback port, on a fresh database of the suite's kind."""
    with fresh_database(os.environ.get("INFRAWG_TEST_DATABASE_URL"), tmp_path) as url:
        app = migrated_app(url, **(LIVE_CONFIG | config))
        site = LiveSite(app).start()
        try:
            yield site
        finally:
            site.stop()


RECOVERY_CODES = 40
_codes_used: dict[str, int] = {}
_codes_lock = threading.Lock()


def recovery_code(email: str, number: int) -> str:
    """The ``number``-th test recovery code of ``email`` (12 digits, as the site cleans them)."""
    prefix = int(hashlib.sha256(email.encode()).hexdigest()[:8], 16) % 10**6
    return f"{prefix:06d}{number:06d}"


def make_person(name: str, email: str) -> Person:
    """A member of the group, straight in the database (inside an app context), with an
    authenticator app and recovery codes: staff, chair and board need a second factor,
    and many visitors signing in as one person at once each burn a recovery code (a
    TOTP code works once per 30 seconds)."""
    person = Person(
        name=name,
        email=email,
        password_hash=password_hash(),
        status=MembershipStatus.MEMBER,
        declared_foundation_member=True,
    )
    db.session.add(person)
    db.session.flush()
    db.session.add(TotpFactor(person_id=person.id, secret=pyotp.random_base32()))
    db.session.add_all(
        RecoveryCode(
            person_id=person.id,
            code_hash=hashlib.sha256(recovery_code(email, n).encode()).hexdigest(),
        )
        for n in range(RECOVERY_CODES)
    )
    db.session.flush()
    with _codes_lock:
        _codes_used[email] = 0
    return person


def next_recovery_code(email: str) -> str:
    with _codes_lock:
        number = _codes_used.get(email, 0)
        _codes_used[email] = number + 1
    return recovery_code(email, number)


class Visitor:
    """One browser: a cookie jar, the CSRF token of the last page, no redirects followed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        response = self.http.get(
            self.base_url + path, allow_redirects=False, timeout=TIMEOUT, **kwargs
        )
        match = CSRF.search(response.text)
        if match:
            self.token = match.group(1)
        return response

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
        if not self.token:
            self.get("/")
        return self.http.post(
            self.base_url + path,
            data={"csrf_token": self.token, **data},
            allow_redirects=False,
            timeout=TIMEOUT,
            **kwargs,
        )

    def sign_in(self, email: str) -> Visitor:
        self.get("/signin")
        response = self.post("/signin", {"email": email, "password": PASSWORD})
        assert response.status_code == 303, response.text[-600:]
        if response.headers["Location"].endswith("/signin/two-factor"):
            self.get("/signin/two-factor")
            response = self.post("/signin/two-factor", {"code": next_recovery_code(email)})
            assert response.status_code == 303, response.text[-600:]
        self.get("/dashboard")  # a fresh CSRF token for the signed-in session
        return self


def at_once(actions: list[Callable[[], Any]]) -> list[Any]:
    """Run the actions in threads released together by a barrier; their results in order."""
    barrier = threading.Barrier(len(actions), timeout=TIMEOUT)

    def run(action: Callable[[], Any]) -> Any:
        barrier.wait()
        return action()

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(run, actions))
