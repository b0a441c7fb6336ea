"""What every page shares: rendering full page or fragment, errors, security headers."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import sqlalchemy.exc
from flask import (
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy import ColumnElement, Select, event, select
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from infrawg import audit, fragments, policy, ui
from infrawg.errors import DomainError, Invalid, NotAllowed
from infrawg.extensions import db, login_manager

# The views' one answer to a successful act, defined with the other htmx paths.
from infrawg.fragments import redirect_after_post as redirect_after_post

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PER_PAGE = 25
T = TypeVar("T")


def wants_fragment() -> bool:
    """A non-boosted htmx request gets the fragment; anything pushed to history, the page."""
    return fragments.is_fragment_request()


def render(full_page: str, fragment: str | None = None, status: int = 200, **context: Any):
    """Render ``full_page``, or only ``fragment`` (a partial it includes) for htmx."""
    template = fragment if fragment and wants_fragment() else full_page
    return render_template(template, **context), status


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for mail, built on INFRAWG_BASE_URL (works outside requests too)."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return base + current_app.url_map.bind("localhost").build(endpoint, values)


# No listing of this site has ten thousand pages; a larger ?page= is a typo or a probe
# (and 10**20 would overflow the database's OFFSET), so it shows the last page there is.
MAX_PAGE = 10_000


def page_number() -> int:
    """?page= as a page number in 1..MAX_PAGE (anything else: page 1)."""
    page = request.args.get("page", 1, type=int) or 1
    return max(1, min(page, MAX_PAGE))


def paginate(stmt: Select, per_page: int = PER_PAGE):
    """One page of ``stmt`` from ?page=; a count query, never the whole table."""
    return db.paginate(
        stmt, page=page_number(), per_page=per_page, max_per_page=100, error_out=False
    )


# The largest id any table holds: a signed 32-bit INTEGER on PostgreSQL (SQLite's 64 bits
# are wider). A larger <int:...> in a URL names nothing; it must not reach the database.
MAX_ID = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` for the whole app: 0..2**31-1 (or the rule's own bounds), else 404."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def register_converters(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    # Blueprints are registered before web.init_app runs: bind their rules again so that
    # they pick the bounded converter (the regex is the same, only to_python changes).
    for rule in app.url_map.iter_rules():
        rule.bind(app.url_map, rebind=True)


def incomplete_form() -> NoReturn:
    """For a POST whose form did not validate (a button's form without its CSRF token)."""
    raise Invalid("The form was incomplete. Reload the page and try again.")


def error_status(error: DomainError) -> int:
    """422 for invalid input re-rendered on its form; the error's own status otherwise."""
    return 422 if isinstance(error, Invalid) else error.status


# What a form is shown again by, with the status and the error (None: it did not validate).
Again = Callable[[int, DomainError | None], ResponseReturnValue]


def submit(
    form: FlaskForm | None,
    act: Callable[[], T],
    *,
    done: Callable[[T], ResponseReturnValue],
    again: Again,
    field: str | None = None,
) -> ResponseReturnValue:
    """The one path of a form submission (noggin's ``handle_form_errors``).

    Validates ``form`` (None for a button whose only field is the CSRF token, which
    CSRFProtect has checked), calls ``act``, commits, and returns ``done(result)`` (usually
    ``redirect_after_post``). A ``DomainError`` rolls the transaction back, goes next to
    its field (``error.field``, else ``field``, else the top of the form) and the form is
    shown again by ``again(status, error)``: 422 for bad input, the error's own status
    (409, 404) otherwise. ``NotAllowed`` is raised on, so the audited handler records it.
    """
    if form is not None and not form.validate_on_submit():
        return again(422, None)
    try:
        result = act()
    except NotAllowed:
        raise
    except DomainError as error:
        db.session.rollback()
        attach_error(form, error, field)
        return again(error_status(error), error)
    db.session.commit()
    return done(result)


def attach_error(form: FlaskForm | None, error: DomainError, field: str | None = None) -> None:
    """Put ``error`` next to its field of ``form``, or at the top of the form."""
    if form is None:
        return
    target = form._fields.get(error.field or field or "")
    if target is not None:
        target.errors = [*target.errors, error.message]
    else:
        form.form_errors.append(error.message)


def refused(status: int, error: DomainError | None) -> NoReturn:
    """``again`` for a button (a form of its CSRF token, or a short note): it has no page
    of its own to show again, so the error handler's page answers: the service's error
    with its status, or the form that came back incomplete."""
    if error is None:
        incomplete_form()
    raise error


def form_or_refused(show_form: Callable[[int], ResponseReturnValue]) -> Again:
    """``again`` for a form whose bad input is shown on the form (``show_form(status)``,
    422, the message next to its field) while a refusal of the act itself (a Conflict, a
    NotFound) belongs to no field: the error handler's page answers it."""

    def again(status: int, error: DomainError | None) -> ResponseReturnValue:
        if error is not None and not isinstance(error, Invalid):
            raise error
        return show_form(status)

    return again


CONFIRMED = "confirmed"


def confirm_first(ask: Callable[[], ResponseReturnValue]) -> ResponseReturnValue | None:
    """The step before an act that is hard to undo or mails many people: unless the
    request says ``confirmed`` (the confirmation page's button sends it), ``ask()`` renders
    the question, with a button that posts the same form again with ``confirmed=1``.
    Works without JavaScript. Returns None once confirmed::

        if (asking := confirm_first(lambda: render("...confirm.html", ...))) is not None:
            return asking
    """
    if request.form.get(CONFIRMED) in {"1", "y", "yes", "true", "on"}:
        return None
    return ask()


def _error_page(status: int, title: str, message: str):
    if wants_fragment():
        return fragments.error_response(status, title, message)
    return render_template("errors/error.html", status=status, title=title, message=message), status


TITLES = {
    400: "That did not work",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "That conflicts with what is already there",
    413: "That is too large",
    422: "Please check the form",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}


def handle_domain_error(error: DomainError):
    db.session.rollback()
    if isinstance(error, NotAllowed) and current_user.is_authenticated:
        # Every refused privileged act leaves a trace, in its own transaction; repeats
        # within a window are counted on one row, so a crawler cannot flood the trail.
        audit.record_refused(current_user, f"{request.method} {request.path}", str(error))
        db.session.commit()
    return _error_page(error.status, TITLES.get(error.status, "That did not work"), error.message)


def handle_http_error(error: HTTPException):
    db.session.rollback()
    messages = {
        404: "There is nothing here, or you may not see it.",
        429: "Too many attempts from your address. Wait a minute and try again.",
        413: "The upload is larger than this site accepts.",
    }
    status = error.code or 500
    message = messages.get(status, error.description or "")
    return _error_page(status, TITLES.get(status, "Error"), message)


def handle_csrf_error(error: CSRFError):
    db.session.rollback()
    return _error_page(
        400,
        "The form expired",
        "The form was not sent from this site or has expired. Reload the page and try again.",
    )


# The database is down, restarting, unreachable, or (SQLite) busy beyond the timeout.
DATABASE_UNAVAILABLE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,
)
RETRY_AFTER_SECONDS = 30


def database_unavailable(error: BaseException) -> bool:
    if isinstance(error, DATABASE_UNAVAILABLE):
        return True
    return isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated


def _without_database() -> None:
    # The page must render when the database is what failed: it is shown as to a visitor
    # who is not signed in (the session stays), so nothing loads the person, their roles
    # or the navigation counts.
    g._login_user = login_manager.anonymous_user()
    g.pop("_roles", None)
    g.nav_counts = {}


def _render_without_database(template: str, status: int, **context: Any) -> str:
    _without_database()
    return render_template(template, status=status, **context)


def handle_unexpected(error: Exception):
    try:
        db.session.rollback()
    except sqlalchemy.exc.SQLAlchemyError:
        log.warning("Rollback failed after an unexpected error", exc_info=True)
    fragment = wants_fragment()
    if database_unavailable(error):
        log.error("Database unavailable on %s %s: %s", request.method, request.path, error)
        title = "The site is briefly unavailable"
        if fragment:
            _without_database()
            response = fragments.error_response(
                503,
                title,
                "The site cannot reach its database just now. Nothing you sent was half-saved."
                f" Please try again in {RETRY_AFTER_SECONDS} seconds.",
            )
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        body = _render_without_database(
            "errors/unavailable.html", 503, title=title, retry_after=RETRY_AFTER_SECONDS
        )
        return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    log.exception("Unexpected error on %s %s", request.method, request.path)
    message = "The error was logged. Please try again later."
    if fragment:
        _without_database()
        return fragments.error_response(500, TITLES[500], message)
    body = _render_without_database(
        "errors/server_error.html", 500, title=TITLES[500], message=message
    )
    return body, 500


# Pages whose content is confidential (R16 archives, the audit trail, survey results,
# the people directory): no browser or proxy keeps a copy (a shared computer's back
# button, a disk cache). A blueprint name covers all its routes; else the endpoint.
NO_STORE_BLUEPRINTS = frozenset({"archives"})
NO_STORE_ENDPOINTS = frozenset(
    {
        "governance.audit_trail",
        "governance.people",
        "governance.person",
        "surveys.results_page",
        "surveys.results_print",
        "surveys.results_csv",
        "surveys.text_answers",
    }
)
HSTS = "max-age=31536000; includeSubDomains"


def is_confidential(endpoint: str | None) -> bool:
    """Whether the page of ``endpoint`` must not be stored by any cache."""
    if not endpoint:
        return False
    view = current_app.view_functions.get(endpoint)
    if getattr(view, "confidential", False):
        return True
    blueprint = endpoint.rpartition(".")[0]
    return blueprint in NO_STORE_BLUEPRINTS or endpoint in NO_STORE_ENDPOINTS


def confidential(view: Any) -> Any:
    """Mark a view whose pages no cache may keep (the same as listing it in NO_STORE_*)."""
    view.confidential = True
    return view


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if current_app.config["BASE_URL"].startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if is_confidential(request.endpoint):
        response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response


def template_context() -> dict[str, Any]:
    # Outside a request (mail sent by a job) there is no current user at all.
    person = current_user if getattr(current_user, "is_authenticated", False) else None
    if person is not None:
        # The person itself, not Flask-Login's proxy: a page asks can() a few dozen times,
        # and every attribute read through the proxy looks the user up again.
        person = person._get_current_object()
    counts = nav_counts(person)
    return {
        "can": lambda permission, subject=None: policy.can(person, permission, subject),
        "Permission": policy.Permission,
        "roles": policy.roles_of(person),
        "nav_counts": counts,
        "second_factor_needed": policy.needs_second_factor(person),
        # Called by _nav.html only: pages rendered without the database replace the nav.
        "nav_groups": lambda: ui.nav_groups(person, counts),
        "work_total": lambda: ui.work_total(counts),
    }


# A counter gives, per nav link, a number or a one-column count query (a Select or a
# column expression): the queries of every area are run together, as one statement.
NavCount = int | Select | ColumnElement[int]
NavCounter = Callable[[Any], Mapping[str, NavCount]]
_NAV_COUNTERS = "infrawg_nav_counters"


def add_nav_counter(app: Flask, func: NavCounter) -> None:
    """Register, for ``app``, a function giving counts of what waits for a person (shown in
    the nav); keys name the nav link. Each area adds its own in its ``init_app``."""
    counters = app.extensions.setdefault(_NAV_COUNTERS, [])
    if func not in counters:
        counters.append(func)


def add_nav_link(app: Flask, *links: ui.NavLink) -> None:
    """Register, for ``app``, entries of the navigation (grouped by area, shown to whom
    ``visible`` allows, with a count of the nav counters). Each area adds its own in its
    ``init_app``; the nav is built from these, never from a list kept by hand."""
    ui.add_nav_links(app, links)


_DASHBOARD_SECTIONS = "infrawg_dashboard_sections"


@dataclass(frozen=True)
class DashboardSection:
    """A part of each person's dashboard an area shows: its template, the template's
    ``section`` for the person, and whether it is an item of "Waiting for you"."""

    template: str
    section: Mapping[str, Any]
    waiting: bool = False


def add_dashboard_section(
    app: Flask,
    template: str,
    context: Callable[[Any], Mapping[str, Any] | None],
    *,
    waiting: bool = False,
) -> None:
    """Register, for ``app``, a part of the dashboard: ``context(person)`` gives the
    template's ``section``, or None when it has nothing for them. With ``waiting`` the
    template is a ``<li>`` of "Waiting for you" (work with no nav count, such as reviews);
    otherwise a section after it (their organisation's services). Each area adds its own
    in ``init_app``."""
    sections = app.extensions.setdefault(_DASHBOARD_SECTIONS, [])
    if (template, context, waiting) not in sections:
        sections.append((template, context, waiting))


def dashboard_sections(person: Any) -> list[DashboardSection]:
    """The dashboard's parts for ``person``, in registration order."""
    shown = []
    for template, context, waiting in current_app.extensions.get(_DASHBOARD_SECTIONS, ()):
        values = context(person)
        if values is not None:
            shown.append(DashboardSection(template, values, waiting))
    return shown


def permitted(permission: policy.Permission) -> ui.Visible:
    """A nav link's ``visible``: shown to whom ``policy.can`` allows ``permission``."""
    return lambda person: policy.can(person, permission)


class NavCounts(Mapping[str, int]):
    """The counts of what waits for a person, worked out when a template first reads one:
    a page or fragment that shows none (an htmx row, an error page) runs no count query."""

    def __init__(self, person: Any) -> None:
        self._person = person
        self._counts: dict[str, int] | None = None

    def _load(self) -> dict[str, int]:
        if self._counts is None:
            counts: dict[str, int] = {}
            pending: dict[str, ColumnElement[int]] = {}
            for counter in current_app.extensions.get(_NAV_COUNTERS, ()):
                for key, value in counter(self._person).items():
                    if isinstance(value, int):
                        counts[key] = value
                    else:
                        pending[key] = (
                            value.scalar_subquery() if isinstance(value, Select) else value
                        )
            if pending:
                # Every area's count in one statement: one round trip, whatever the role.
                row = db.session.execute(
                    select(*(column.label(key) for key, column in pending.items()))
                ).one()
                counts.update({key: int(row._mapping[key] or 0) for key in pending})
            self._counts = counts
        return self._counts

    def __getitem__(self, key: str) -> int:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def nav_counts(person) -> Mapping[str, int]:
    """Counts of what waits for this person, shown beside the navigation links (once per
    request, and only when read)."""
    if person is None:
        return {}
    if "nav_counts" not in g:
        g.nav_counts = NavCounts(person)
    return g.nav_counts


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL: readers never block the writer nor wait for it.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


SQLITE_BUSY_TIMEOUT_MS = 15000
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _sqlite_begin(conn) -> None:
    # A deferred transaction that reads and then writes cannot wait for the write lock:
    # SQLite answers "database is locked" at once when another writer got in between,
    # whatever the busy timeout. So a transaction that may write takes the lock up front
    # (BEGIN IMMEDIATE: writers queue on the busy timeout, one at a time). Only the first
    # transaction of a request that cannot write (GET, HEAD, OPTIONS: their views never
    # commit) reads in a deferred one, which in WAL mode neither waits nor blocks; a later
    # one in the same request follows a rollback by an error handler that may write (the
    # audit of a refused act). Jobs and commands, outside any request, write.
    if has_request_context() and request.method in SAFE_METHODS:
        first = not g.get("_sqlite_began", False)
        g._sqlite_began = True
        if first:
            conn.exec_driver_sql("BEGIN")
            return
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name == "sqlite" and not getattr(engine, "_infrawg_configured", False):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        engine._infrawg_configured = True  # type: ignore[attr-defined]


def refuse_nul_characters() -> None:
    """before_request: no text a person types holds a NUL character, and PostgreSQL cannot
    store or even compare one; refuse it at the door (as Django's forms do), files aside."""
    for values in (request.args, request.form):
        if any("\x00" in name or "\x00" in value for name, value in values.items(multi=True)):
            raise Invalid("The form held a NUL character, which no field accepts.")


class QueryStringFilter(logging.Filter):
    """Drops the query string from the request lines the server logs: the Mailman
    archiver sends its token as ``?key=``, and search terms are nobody's log's business."""

    _QUERY = re.compile(r"\?[^\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                self._QUERY.sub("?…", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = self._QUERY.sub("?…", record.msg)
        return True


QUERY_STRING_FILTER = QueryStringFilter()


def init_app(app: Flask) -> None:
    register_converters(app)
    # werkzeug's development server writes every request line to the "werkzeug" logger.
    logging.getLogger("werkzeug").addFilter(QUERY_STRING_FILTER)
    app.before_request(refuse_nul_characters)
    app.before_request(policy.guard_request)
    app.after_request(security_headers)
    fragments.init_app(app)
    app.context_processor(template_context)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    if not app.debug:
        app.register_error_handler(Exception, handle_unexpected)
    with app.app_context():
        configure_engine(db.engine)
    app.jinja_env.globals["site_name"] = "Infra-WG"
    app.jinja_env.filters["tone"] = ui.tone_of
    app.jinja_env.filters["plural"] = ui.plural
    app.jinja_env.globals["config_mail_backend"] = lambda: current_app.config["MAIL_BACKEND"]
