"""Fixtures: the app on a fresh transaction per test, people of every kind, real servers.

The database is SQLite (a temporary file) unless INFRAWG_TEST_DATABASE_URL names another
(PostgreSQL in `make test`'s second run). The schema is built once per run by the Alembic
migrations, so the suite also proves that `flask db upgrade` creates everything.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from flask import Flask, g
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.orm import scoped_session, sessionmaker

from infrawg import create_app
from infrawg.extensions import db, limiter
from infrawg.governance.models import Role, RoleGrant
from infrawg.membership.models import MembershipStatus, Person
from infrawg.membership.passwords import hash_password
from infrawg.web import configure_engine
from tests.servers.live import fresh_database
from tests.servers.smtp import SMTPServer

PASSWORD = "correct horse battery"
_PASSWORD_HASH: str | None = None


def password_hash() -> str:
    # Argon2 is slow on purpose; hash the shared test password once per run.
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


def migrated_app(database_url: str, **overrides) -> Flask:
    """An app on ``database_url`` with the schema built by the migrations."""
    from flask_migrate import upgrade

    app = create_app(base_config(database_url) | overrides)
    with app.app_context():
        upgrade()
    return app


def base_config(database_url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "MAIL_BACKEND": "outbox",
        "MEMBERSHIP_VERIFIER": "approval",
        "BASE_URL": "http://localhost",
        "RATELIMIT_STORAGE_URI": "memory://",
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """A database of this run only (SQLite file, or a new database on the PostgreSQL
    server that INFRAWG_TEST_DATABASE_URL names), its schema built by the migrations."""
    base = os.environ.get("INFRAWG_TEST_DATABASE_URL")
    with fresh_database(base, tmp_path_factory.mktemp("db")) as url:
        app = migrated_app(url)
        with app.app_context():
            db.engine.dispose()
        yield url


class DefaultConfig(dict):
    """The configuration of the shared app: a test whose ``app_config`` is anything else
    (a module's override, a parametrisation) gets an app of its own."""


@pytest.fixture
def app_config() -> dict:
    """Per-test overrides of the app's configuration (override this fixture in a module)."""
    return DefaultConfig()


@dataclass
class SharedApp:
    """The one app of the run, with what each test must find as it was."""

    app: Flask
    config: dict
    extensions: dict
    limiter_state: tuple


@pytest.fixture(scope="session")
def shared_app(database_url) -> Iterator[SharedApp]:
    # Building an app costs about as much as a fast test; most tests share this one.
    app = create_app(base_config(database_url))
    app.test_client_class = FormClient
    # Flask-Limiter keeps its storage on the one Limiter object, set by the latest
    # init_app: an app built for another test would otherwise leave its storage behind.
    limiter_state = (limiter._storage, limiter._limiter)
    yield SharedApp(app, dict(app.config), dict(app.extensions), limiter_state)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(request, app_config) -> Iterator[Flask]:
    """The app, on a transaction rolled back after the test.

    Shared by the tests of the run unless the test overrides ``app_config`` or is marked
    ``own_app`` (it adds routes or handlers, which Flask refuses on an app that has served
    requests). Whatever a test changes in ``app.config`` or ``app.extensions`` is put back.
    """
    own = type(app_config) is not DefaultConfig or request.node.get_closest_marker("own_app")
    if own:
        app = create_app(base_config(request.getfixturevalue("database_url")) | app_config)
        app.test_client_class = FormClient
    else:
        shared: SharedApp = request.getfixturevalue("shared_app")
        app = shared.app
        limiter._storage, limiter._limiter = shared.limiter_state
    with app.app_context():
        engine = db.engine
        configure_engine(engine)
        connection = engine.connect()
        outer = connection.begin()
        # Every commit in the test releases a savepoint; the outer transaction rolls back.
        real_session = db.session
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        limiter.reset()
        app.extensions["test_connection"] = connection
        try:
            yield app
        finally:
            db.session.remove()
            db.session = real_session
            outer.rollback()
            connection.close()
            if own:
                engine.dispose()
            else:
                app.config.clear()
                app.config.update(shared.config)
                app.extensions.clear()
                app.extensions.update(shared.extensions)


class FormClient(FlaskClient):
    """A test client that sends the CSRF token with each POST, as a browser form does.

    The test holds one app context (so it can read the database between requests); each
    request still starts with an empty ``g``, as it would in its own app context.
    """

    def open(self, *args, **kwargs):
        g.__dict__.clear()
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        """The token a page would carry for this client's session, without asking for one.

        Flask-WTF keeps a random value in the session and puts it, signed, in each form;
        the client does the same (tests/test_site.py checks the pages carry one).
        """
        config = self.application.config
        field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        with self.session_transaction() as session:
            raw = session.setdefault(field, hashlib.sha1(os.urandom(64)).hexdigest())  # noqa: S324
        secret = config.get("WTF_CSRF_SECRET_KEY") or self.application.secret_key
        return URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)

    def post(self, *args, csrf: bool = True, htmx: bool = False, **kwargs):
        if csrf:
            data = dict(kwargs.pop("data", None) or {})
            data.setdefault("csrf_token", self.csrf_token())
            kwargs["data"] = data
        if htmx:
            kwargs.setdefault("headers", {})["HX-Request"] = "true"
        return super().post(*args, **kwargs)


@contextmanager
def undone(app: Flask):
    """Run a block whose every commit is undone afterwards (the session starts afresh)."""
    connection = app.extensions["test_connection"]
    db.session.remove()
    savepoint = connection.begin_nested()
    try:
        yield
    finally:
        db.session.remove()
        savepoint.rollback()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@dataclass
class People:
    """Makes people straight in the database, with roles; signs them in on a client."""

    app: Flask
    counter: int = 0

    def make(
        self,
        name: str | None = None,
        status: MembershipStatus = MembershipStatus.MEMBER,
        roles: tuple[Role, ...] = (),
        email: str | None = None,
    ) -> Person:
        self.counter += 1
        name = name or f"Person {self.counter}"
        person = Person(
            name=name,
            email=email or f"person{self.counter}@example.org",
            password_hash=password_hash(),
            status=status,
            declared_foundation_member=True,
        )
        db.session.add(person)
        db.session.flush()
        for role in roles:
            db.session.add(RoleGrant(person_id=person.id, role=role, authority="test fixture"))
        db.session.commit()
        return person

    def sign_in(
        self, client: FlaskClient, person: Person, second_factor: bool = True
    ) -> FlaskClient:
        """Sign ``person`` in on ``client``; the session has passed its second factor just
        now unless ``second_factor=False`` (the tests of the two-factor rule sign in for real
        through the forms, tests/membership/test_two_factor.py)."""
        user_id = session_user_id(person, second_factor=second_factor)
        with client.session_transaction() as session:
            session["_user_id"] = user_id
            session["_fresh"] = True
        return client


def session_user_id(person: Person, user_agent: str = "pytest", second_factor: bool = True) -> str:
    """A server-side session for ``person`` (committed), as the Flask-Login id naming it;
    it passed a second factor just now (staff, chair and board need one) unless told not."""
    from infrawg.membership.accounts import open_session
    from infrawg.timeutil import utcnow

    open_session(person, user_agent, "127.0.0.1")
    if second_factor and person.signed_in_session is not None:
        person.signed_in_session.second_factor_at = utcnow()
    db.session.commit()
    return person.get_id()


@pytest.fixture
def people(app) -> People:
    return People(app)


@pytest.fixture
def member(people) -> Person:
    return people.make("Mia Member")


@pytest.fixture
def staff(people) -> Person:
    return people.make("Sam Staff", roles=(Role.STAFF,))


@pytest.fixture
def chair(people) -> Person:
    return people.make("Cleo Chair", roles=(Role.CHAIR,))


@pytest.fixture
def board(people) -> Person:
    return people.make("Bo Board", status=MembershipStatus.LEFT, roles=(Role.BOARD,))


def make_organisation(name: str, *tenants: Person, slug: str | None = None):
    """An approved working group (R1: eligible at once) with these tenant members."""
    from infrawg.tenants.models import (
        OrganisationKind,
        OrganisationStatus,
        TenantMember,
        TenantOrganisation,
    )

    organisation = TenantOrganisation(
        kind=OrganisationKind.WG,
        name=name,
        slug=slug or name.lower().replace(" ", "-"),
        status=OrganisationStatus.APPROVED,
        approval_ref="Membership vote (test)",
    )
    db.session.add(organisation)
    db.session.flush()
    for person in tenants:
        db.session.add(TenantMember(organisation_id=organisation.id, person_id=person.id))
    db.session.commit()
    return organisation


@pytest.fixture
def tenant_member(people) -> Person:
    """The liaison of "Tenant Fixture WG"."""
    person = people.make("Tess Tenant")
    make_organisation("Tenant Fixture WG", person)
    return person


@pytest.fixture
def applicant(people) -> Person:
    return people.make("Ada Applicant", status=MembershipStatus.AWAITING_APPROVAL)


@pytest.fixture
def former_member(people) -> Person:
    return people.make("Finn Former", status=MembershipStatus.LEFT)


def html(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def outbox_to(address: str):
    """Mails the outbox backend kept for ``address``, oldest first."""
    from infrawg.notices.models import MailState, OutboxMail

    return db.session.scalars(
        sa.select(OutboxMail)
        .where(OutboxMail.recipients.contains(address), OutboxMail.state == MailState.DEVELOPMENT)
        .order_by(OutboxMail.id)
    ).all()


def link_in(body: str, path_prefix: str) -> str:
    """The path of the first link in ``body`` that starts with ``path_prefix``."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"[^\s]*)", body)
    assert match, f"no link to {path_prefix} in mail:\n{body}"
    return match.group(1)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server):
    smtp_server.sink.clear()
    return smtp_server.sink


@pytest.fixture
def smtp_config(smtp_server) -> dict:
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}
