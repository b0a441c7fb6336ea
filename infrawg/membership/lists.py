"""The group's mailing list behind a small interface; joining and leaving change it.

Backends are chosen by INFRAWG_LIST_BACKEND and built once in `create_app` by
`infrawg.registry` (a wrong setting stops start-up):

- ``log`` (the default) records each call in the ``list_call`` table, in the same transaction
  as the membership change; ``members()`` and the drift report read it.
- ``mailman3`` talks to Mailman 3 core's REST API (3.1) through ``mailmanclient``. Its calls
  never run inside the site's transaction: `follow_membership` enqueues a job that runs after
  the commit and is retried while Mailman is unreachable, so a join never waits on the list.

Who mails whom: the site sends the welcome mail (it carries the dashboard link), so the
backend subscribes with ``send_welcome_message=False``; the site also sends the goodbye on
leaving, and the list should have ``send_goodbye_message`` off (see the README).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.error import HTTPError

from sqlalchemy import func, select

from infrawg import registry
from infrawg.extensions import db
from infrawg.membership.models import ListCall, ListException, MembershipStatus, Person

SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
SYNC_JOB = "membership.list_sync"
EXTENSION_KEY = "infrawg_list_backend"  # where infrawg.registry keeps the built backend

log = logging.getLogger(__name__)


class ListUnavailable(Exception):
    """The list server could not be reached or did not do what was asked (retry later)."""


class ListBackend(Protocol):
    """One mailing list. `subscribe` and `unsubscribe` are idempotent: subscribing a
    subscriber or unsubscribing a non-subscriber succeeds and changes nothing."""

    #: True when calls join the site's transaction (then they run inline, not as jobs).
    transactional: bool
    list_address: str

    def subscribe(self, email: str) -> None: ...

    def unsubscribe(self, email: str) -> None: ...

    def members(self) -> set[str]:
        """The addresses subscribed now, lower-case."""
        ...

    def waiting(self) -> set[str]:
        """Addresses that asked the list itself to subscribe and wait for a moderator."""
        ...


class LogListBackend:
    """Records calls in the database (same transaction as the membership change)."""

    transactional = True
    development = True
    development_warning = (
        "DEVELOPMENT LIST BACKEND: INFRAWG_LIST_BACKEND=log records subscriptions in the "
        "database and changes no mailing list. Use INFRAWG_LIST_BACKEND=mailman3 in production."
    )

    def __init__(self, list_address: str) -> None:
        self.list_address = list_address

    @classmethod
    def create(cls, config: Mapping[str, Any]) -> LogListBackend:
        return cls(config["LIST_ADDRESS"])

    def _record(self, email: str, action: str) -> None:
        db.session.add(ListCall(list_address=self.list_address, email=email, action=action))

    def subscribe(self, email: str) -> None:
        self._record(email, SUBSCRIBE)

    def unsubscribe(self, email: str) -> None:
        self._record(email, UNSUBSCRIBE)

    def members(self) -> set[str]:
        latest = (
            select(func.max(ListCall.id))
            .where(ListCall.list_address == self.list_address)
            .group_by(ListCall.email)
        )
        return set(
            db.session.scalars(
                select(ListCall.email).where(ListCall.id.in_(latest), ListCall.action == SUBSCRIBE)
            )
        )

    def waiting(self) -> set[str]:
        return set()  # nobody subscribes on a log


class Mailman3ListBackend:
    """Mailman 3 core over its REST API. The site has already confirmed each address, so a
    subscription is pre-verified, pre-confirmed and pre-approved (it bypasses the list's
    moderated subscription policy) and Mailman sends no welcome of its own."""

    transactional = False

    def __init__(
        self, list_address: str, url: str, user: str, password: Any, timeout: float = 10.0
    ) -> None:
        self.list_address = list_address
        self.url = url.rstrip("/")
        self.user = user
        self._password = password  # a provisioning.secrets.Secret
        self.timeout = timeout

    @classmethod
    def create(cls, config: Mapping[str, Any]) -> Mailman3ListBackend:
        from infrawg.provisioning.secrets import resolve_secret

        url = config.get("MAILMAN_URL")
        if not url:
            raise RuntimeError(
                "INFRAWG_LIST_BACKEND=mailman3 needs INFRAWG_MAILMAN_URL "
                "(Mailman core's REST API, e.g. http://127.0.0.1:8001)"
            )
        ref = config.get("MAILMAN_PASSWORD") or ""
        return cls(
            config["LIST_ADDRESS"],
            url,
            config["MAILMAN_USER"],
            resolve_secret(ref),
            timeout=float(config.get("MAILMAN_TIMEOUT", 10)),
        )

    def _client(self) -> Any:
        from mailmanclient import Client

        def with_timeout(params: dict[str, Any]) -> dict[str, Any]:
            # mailmanclient sets no timeout of its own: a hung server would hang the job.
            params["timeout"] = self.timeout
            return params

        base = self.url if self.url.endswith("/3.1") else f"{self.url}/3.1"
        return Client(base, self.user, self._password.reveal(), request_hooks=[with_timeout])

    def _list(self) -> Any:
        from mailmanclient import MailmanConnectionError

        try:
            return self._client().get_list(self.list_address)
        except MailmanConnectionError as error:
            raise ListUnavailable(f"Mailman at {self.url} is unreachable: {error}") from None
        except HTTPError as error:
            raise ListUnavailable(
                f"Mailman at {self.url} answered {error.code} for the list "
                f"{self.list_address}: {error.reason}"
            ) from None

    def subscribe(self, email: str) -> None:
        from mailmanclient import MailmanConnectionError

        mlist = self._list()
        try:
            result = mlist.subscribe(
                email,
                pre_verified=True,
                pre_confirmed=True,
                pre_approved=True,
                send_welcome_message=False,
            )
        except MailmanConnectionError as error:
            raise ListUnavailable(f"Mailman at {self.url} is unreachable: {error}") from None
        except HTTPError as error:
            if error.code == 409:  # "Member already subscribed"
                return
            raise ListUnavailable(
                f"Mailman refused to subscribe {email}: {error.code} {error.reason}"
            ) from None
        if isinstance(result, dict) and "token" in result:
            # 202: held (by a ban or a policy the pre-approval does not lift); say so.
            raise ListUnavailable(
                f"Mailman held the subscription of {email} for {result.get('token_owner')}"
            )

    def unsubscribe(self, email: str) -> None:
        from mailmanclient import MailmanConnectionError

        mlist = self._list()
        try:
            mlist.unsubscribe(email, pre_confirmed=True, pre_approved=True)
        except ValueError:  # mailmanclient's "is not a member address"
            return
        except MailmanConnectionError as error:
            raise ListUnavailable(f"Mailman at {self.url} is unreachable: {error}") from None

    def members(self) -> set[str]:
        from mailmanclient import MailmanConnectionError

        mlist = self._list()
        try:
            return {member.email.lower() for member in mlist.members}
        except MailmanConnectionError as error:
            raise ListUnavailable(f"Mailman at {self.url} is unreachable: {error}") from None

    def waiting(self) -> set[str]:
        from mailmanclient import MailmanConnectionError

        mlist = self._list()
        try:
            held = mlist.get_requests(token_owner="moderator")  # noqa: S106 (not a secret)
        except MailmanConnectionError as error:
            raise ListUnavailable(f"Mailman at {self.url} is unreachable: {error}") from None
        return {entry["email"].lower() for entry in held}


def build_list_backend(config: Mapping[str, Any]) -> ListBackend:
    """The backend ``config`` chooses (INFRAWG_LIST_BACKEND), built through the registry."""
    backend: ListBackend = registry.build("list", config)
    return backend


def list_backend() -> ListBackend:
    """The backend `create_app` built (`infrawg.registry.init_app`)."""
    backend: ListBackend = registry.find_service("list")
    return backend


def exception_for(email: str) -> ListException | None:
    return db.session.scalar(
        select(ListException).where(
            ListException.list_address == list_backend().list_address,
            ListException.email == email.lower(),
        )
    )


def should_be_on_list(email: str) -> bool:
    """Members are on the list, others are not, unless staff recorded a known exception."""
    exception = exception_for(email)
    if exception is not None:
        return exception.on_list
    return (
        db.session.scalar(
            select(Person.id).where(
                Person.email == email.lower(), Person.status == MembershipStatus.MEMBER
            )
        )
        is not None
    )


def apply_membership(email: str, backend: ListBackend | None = None) -> str:
    """Make the list agree with the site for `email` now; return what was asked of it."""
    backend = backend or list_backend()
    if should_be_on_list(email):
        backend.subscribe(email)
        return SUBSCRIBE
    backend.unsubscribe(email)
    return UNSUBSCRIBE


def follow_membership(email: str) -> None:
    """The membership of `email` changed: bring the list along.

    A transactional backend is called at once; any other gets a job that runs after this
    transaction commits and reads the membership again when it runs, so jobs that retry
    out of order still leave the list as the site is then.
    """
    backend = list_backend()
    if backend.transactional:
        apply_membership(email, backend)
        return
    from infrawg.jobs.runner import enqueue

    enqueue(SYNC_JOB, email=email.lower())
