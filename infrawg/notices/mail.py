"""Sending mail: one interface, two backends chosen by INFRAWG_MAIL_BACKEND.

``smtp`` hands messages to Flask-Mail only after the transaction that caused them commits
(a rolled-back act sends nothing); ``outbox`` stores them in a table shown at /dev/outbox,
so a newcomer can follow links without a mail server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from flask import current_app, render_template
from flask_mail import Message
from sqlalchemy import event
from sqlalchemy.orm import Session

from infrawg.extensions import db, mail
from infrawg.notices.models import OutboxMail

log = logging.getLogger(__name__)
PENDING_KEY = "infrawg_pending_mail"


@dataclass(frozen=True)
class OutgoingMail:
    recipients: tuple[str, ...]
    subject: str
    body: str


class MailBackend(Protocol):
    def send(self, message: OutgoingMail) -> None:
        """Deliver ``message`` as part of the current transaction."""


class SMTPBackend:
    """Queues on the session; sends through Flask-Mail after commit."""

    def send(self, message: OutgoingMail) -> None:
        db.session.info.setdefault(PENDING_KEY, []).append(message)


class OutboxBackend:
    """Development backend: keeps the mail in the database instead of sending it."""

    def __init__(self) -> None:
        log.warning("Mail goes to the development outbox at /dev/outbox, not to anyone.")

    def send(self, message: OutgoingMail) -> None:
        db.session.add(
            OutboxMail(
                recipients=", ".join(message.recipients),
                subject=message.subject,
                body=message.body,
            )
        )


BACKENDS: dict[str, type[MailBackend]] = {"smtp": SMTPBackend, "outbox": OutboxBackend}


def backend_for(name: str) -> MailBackend:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise RuntimeError(
            f"INFRAWG_MAIL_BACKEND={name!r} is not one of {', '.join(BACKENDS)}"
        ) from None


def send_mail(recipients: str | Iterable[str], subject: str, template: str, **context) -> None:
    """Render ``templates/notices/<template>.txt`` and send it with the configured backend."""
    to = (recipients,) if isinstance(recipients, str) else tuple(dict.fromkeys(recipients))
    if not to:
        return
    body = render_template(f"notices/{template}.txt", **context)
    backend: MailBackend = current_app.extensions["infrawg_mail_backend"]
    backend.send(OutgoingMail(recipients=to, subject=f"[Infra-WG] {subject}", body=body))


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    for message in pending or ():
        try:
            mail.send(
                Message(
                    subject=message.subject, recipients=list(message.recipients), body=message.body
                )
            )
        except OSError:
            # The act is committed; a relay that is down must not turn it into an error page.
            log.exception("Could not send mail %r to %s", message.subject, message.recipients)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
