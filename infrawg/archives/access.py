"""R16, failing closed: who may read which archived message, decided in two places only.

1. :func:`guard` runs before every route of the archives blueprint. A route is
   members-only unless it is explicitly marked :func:`public_capable` (its queries then
   filter per object) or :func:`token_protected` (the Mailman archiver); a new route that
   says nothing is private.
2. :func:`visible_messages` builds the select of the messages a person may read; every
   page, fragment, search, attachment and export query starts from it, so an object
   that is not in it does not exist for that person.

Levels: ``members`` (the default of every list), ``staff`` (sensitive topics) and
``public`` (only by an audited act of the chair). A thread's own level, when set,
replaces its list's. Unpublished messages (an import in progress) are in no level.
A former member holds no member role, so loses access with the next request.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, request
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, false, func, select
from sqlalchemy.orm import aliased

from infrawg.archives.models import Attachment, MailingList, Message, Thread, Visibility
from infrawg.errors import NotAllowed, NotFound
from infrawg.extensions import csrf, login_manager
from infrawg.policy import PUBLIC, Permission, can, require

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_CAPABLE = "public-capable"
TOKEN = "token"  # noqa: S105 - a mode name, not a secret


def public_capable(view: F) -> F:
    """Open to anyone; the view shows only what :func:`visible_messages` lets through."""
    view.access = PUBLIC  # type: ignore[attr-defined]
    view.archive_access = PUBLIC_CAPABLE  # type: ignore[attr-defined]
    return view


def token_protected(view: F) -> F:
    """For the list server: a bearer token (INFRAWG_ARCHIVER_TOKEN), no session, no CSRF."""
    view.access = PUBLIC  # type: ignore[attr-defined]
    view.archive_access = TOKEN  # type: ignore[attr-defined]
    return csrf.exempt(view)


def guard() -> Any:
    """before_request of the archives blueprint: the one check every archive route passes."""
    view = current_app.view_functions.get(request.endpoint or "")
    mode = getattr(view, "archive_access", None)
    if mode == PUBLIC_CAPABLE:
        return None  # R16: per-object filtering by visible_messages in every query
    if mode == TOKEN:
        _check_token()
        return None
    # R16: everything else is for members (and more, if the route requires more).
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    require(current_user, Permission.ARCHIVE_READ)
    return None


def _check_token() -> None:
    expected = current_app.config.get("ARCHIVER_TOKEN")
    if not expected:
        abort(404)  # no token configured: the endpoint does not exist
    # A bearer token or X-Archiver-Token header; else the ?key= that the mailman-hyperkitty
    # plugin sends (the request log never writes query strings: infrawg.web.quiet_log).
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        token = request.headers.get("X-Archiver-Token", "") or request.args.get("key", "")
    token = token.strip()
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise NotAllowed("A valid archiver token is required.")


def readable_levels(person: Any) -> frozenset[Visibility]:
    """The visibility levels ``person`` may read (anonymous: public only)."""
    levels = {Visibility.PUBLIC}
    if can(person, Permission.ARCHIVE_READ):
        levels.add(Visibility.MEMBERS)
        if can(person, Permission.ARCHIVE_READ_SENSITIVE):
            levels.add(Visibility.STAFF)
    return frozenset(levels)


def effective_visibility() -> ColumnElement[Any]:
    """A thread's own level, else its list's (SQL expression over Thread and MailingList)."""
    return func.coalesce(Thread.visibility, MailingList.visibility)


def visible_messages(person: Any, *columns: Any, mailing_list: Any = MailingList) -> Select[Any]:
    """SELECT ``columns`` (default: Message) FROM the messages ``person`` may read.

    The statement joins Thread and MailingList (or ``mailing_list``, an alias of it, for a
    subquery that must leave MailingList to the enclosing query), so callers may filter
    or group on them. R16: the single definition of "may read"; every archive query
    starts here.
    """
    levels = sorted(level.value for level in readable_levels(person))
    stmt = (
        select(*(columns or (Message,)))
        .select_from(Message)
        .join(Thread, Thread.id == Message.thread_id)
        .join(mailing_list, mailing_list.id == Message.list_id)
    )
    if not levels:
        return stmt.where(false())
    # The same test as ``effective_visibility().in_(levels)``, spelt so that PostgreSQL's
    # planner can estimate it from the columns' statistics: it takes a COALESCE(...) IN
    # for 1% of the rows and then walks every thread instead of the (list, date) index.
    return stmt.where(
        Message.published.is_(True),
        Thread.visibility.in_(levels)
        | (Thread.visibility.is_(None) & mailing_list.visibility.in_(levels)),
    )


def visible_lists(person: Any) -> Select[Any]:
    """Lists with at least one message ``person`` may read, or whose own level they read."""
    levels = [level.value for level in readable_levels(person)]
    # R16: the subquery joins an alias of the list, so that its EXISTS is correlated with
    # the outer MailingList (uncorrelated, one public thread revealed every list's name).
    inner = aliased(MailingList)
    has_visible = visible_messages(person, Message.id, mailing_list=inner).where(
        Message.list_id == MailingList.id
    )
    return select(MailingList).where(MailingList.visibility.in_(levels) | has_visible.exists())


def hidden() -> NotFound:
    """The refusal for an object the person may not read: sign in first, else not found.

    Not found rather than forbidden: R16 keeps even the existence of a thread private.
    """
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())
    return NotFound("There is nothing here, or you may not see it.")


def attachment_for(person: Any, attachment_id: int, session: Any) -> tuple[Attachment, Message]:
    """The attachment and its message, if ``person`` may read the message (R16)."""
    row = session.execute(
        visible_messages(person, Attachment, Message)
        .join(Attachment, Attachment.message_pk == Message.id)
        .where(Attachment.id == attachment_id)
    ).first()
    if row is None:
        raise hidden()
    return row[0], row[1]
