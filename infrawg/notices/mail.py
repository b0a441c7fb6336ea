"""Sending mail: every mail is a row of `outbox_mail`, written in the act's own transaction.

A rolled-back act leaves no mail; a committed act always has its mail. What happens next
depends on INFRAWG_MAIL_BACKEND:

``smtp``    the row is *pending* and a `notices.deliver` job (in the same transaction) hands it
            to the relay, retried with back-off while the relay is down; staff see what is not
            delivered yet at /staff/mail. With INFRAWG_MAIL_SEND_AT_ONCE the process that caused
            the mail makes the job's first attempt itself, once the request (or `flask infrawg`
            command) that committed it ends: the same job, claimed as any worker claims it, so
            mail leaves at once when the relay is up and waits for a worker when it is not.
``outbox``  development: the row is kept, never sent, and shown to staff at /dev/outbox.

Delivery is at least once: a worker that dies between the relay's "250" and its commit
sends that mail again.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import click
from flask import Flask, current_app, has_request_context, render_template
from flask_mail import Connection, Message
from sqlalchemy import select
from sqlalchemy.orm import Session

import infrawg.jobs.runner as jobs
from infrawg import audit
from infrawg.actions import Action
from infrawg.aftercommit import after_commit, on_commit
from infrawg.errors import Conflict, Invalid, NotFound
from infrawg.extensions import db
from infrawg.jobs.models import Job, JobState
from infrawg.notices.models import UNDELIVERED, MailState, OutboxAttachment, OutboxMail
from infrawg.registry import find_service
from infrawg.timeutil import utcnow

log = logging.getLogger(__name__)
# Delivery jobs of the current transaction, tried at once after it commits.
MAIL_KEY = "mail"  # the after-commit key of delivery jobs to attempt
_COMMITTED_KEY = "infrawg_committed_mail"
DELIVER = "notices.deliver"
# 30 s, 1, 2, 4, 8, 16, 32 min, 1 h... about four hours of relay outage before giving up.
DELIVERY_ATTEMPTS = 10
# Characters that end a header line (RFC 5322 and what Python's email treats as one).
LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


@dataclass(frozen=True)
class Attachment:
    """A file sent with a mail: its name, MIME type and bytes."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class OutgoingMail:
    recipients: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()


class MailBackend(Protocol):
    """Where a mail goes. Chosen by INFRAWG_MAIL_BACKEND and built once by `infrawg.registry`."""

    def send(self, message: OutgoingMail) -> OutboxMail:
        """Store ``message`` in the current transaction (and arrange its delivery)."""
        ...


class SMTPBackend:
    """Stores the mail as pending with its delivery job; the job sends it through the relay."""

    @classmethod
    def create(cls, config: Mapping[str, Any]) -> SMTPBackend:
        return cls()

    def send(self, message: OutgoingMail) -> OutboxMail:
        row = _store(message, MailState.PENDING)
        delivery = jobs.enqueue(DELIVER, mail_id=row.id)
        row.job_id = delivery.id
        after_commit(MAIL_KEY, delivery.id)
        _attempt_when_command_ends()
        return row


class OutboxBackend:
    """Development backend: keeps the mail in the database instead of sending it."""

    development = True
    development_warning = (
        "DEVELOPMENT MAIL BACKEND: mail goes to the outbox at /dev/outbox (staff and the "
        "chair only), not to anyone. Never use INFRAWG_MAIL_BACKEND=outbox in production."
    )

    @classmethod
    def create(cls, config: Mapping[str, Any]) -> OutboxBackend:
        check_outbox_allowed(config)
        return cls()

    def send(self, message: OutgoingMail) -> OutboxMail:
        return _store(message, MailState.DEVELOPMENT)


def _store(message: OutgoingMail, state: MailState) -> OutboxMail:
    row = OutboxMail(
        recipients=", ".join(message.recipients),
        subject=message.subject,
        body=message.body,
        state=state,
    )
    db.session.add(row)
    db.session.flush()
    for attachment in message.attachments:
        db.session.add(
            OutboxAttachment(
                mail_id=row.id,
                filename=attachment.filename,
                content_type=attachment.content_type,
                data=attachment.data,
            )
        )
    return row


def check_outbox_allowed(config: Mapping[str, Any]) -> None:
    """Refuse to build a public (https) site whose mail would sit in the readable outbox."""
    if (
        config["MAIL_BACKEND"] == "outbox"
        and str(config["BASE_URL"]).startswith("https://")
        and not config["ALLOW_OUTBOX"]
    ):
        raise RuntimeError(
            "INFRAWG_MAIL_BACKEND=outbox is the development mail backend: it sends nothing and "
            f"keeps every mail (password-reset links too) on the site, but INFRAWG_BASE_URL "
            f"({config['BASE_URL']}) says this is a public https site. Configure SMTP "
            "(INFRAWG_MAIL_BACKEND=smtp, INFRAWG_MAIL_SERVER=...), or set INFRAWG_ALLOW_OUTBOX=1 "
            "if you really mean to run the development outbox here."
        )


def has_line_break(text: str) -> bool:
    """Whether ``text`` would break out of a mail header line (header injection)."""
    return any(char in LINE_BREAKS for char in text)


def send_mail(
    recipients: str | Iterable[str],
    subject: str,
    template: str,
    attachments: Iterable[Attachment] = (),
    **context,
) -> None:
    """Render ``templates/notices/<template>.txt`` and send it with the configured backend.

    ``attachments`` (an impact notice's .ics) are stored with the mail and sent with it.
    The mail is stored in the caller's transaction; a subject or address that would inject a
    header is refused (``Invalid``) before anything is stored, so the act fails with it.
    """
    to = (recipients,) if isinstance(recipients, str) else tuple(dict.fromkeys(recipients))
    if not to:
        return
    if has_line_break(subject) or any(has_line_break(address) for address in to):
        raise Invalid("A name or title must be on one line: line breaks cannot go into mail.")
    body = render_template(f"notices/{template}.txt", **context)
    backend: MailBackend = find_service("mail")
    backend.send(
        OutgoingMail(
            recipients=to,
            subject=f"[Infra-WG] {subject}",
            body=body,
            attachments=tuple(attachments),
        )
    )


# -- delivery ------------------------------------------------------------------------------------


class _RelayConnection(Connection):
    """Flask-Mail's connection with a timeout, so a relay that hangs cannot hold a worker."""

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        config = current_app.config
        server, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
        host: smtplib.SMTP | smtplib.SMTP_SSL
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(server, port, timeout=timeout)
        else:
            host = smtplib.SMTP(server, port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def deliver(ctx: jobs.JobContext, mail_id: int) -> None:
    """The delivery job: hand one stored mail to the relay (an error retries with back-off)."""
    row = db.session.get(OutboxMail, mail_id)
    if row is None:
        raise NotFound(f"There is no mail #{mail_id}.")
    if row.state == MailState.SENT:
        ctx.log("already sent; nothing to do")
        return
    if row.state == MailState.DEVELOPMENT:
        ctx.log("development outbox: kept, not sent")
        return
    recipients: list[str | tuple[str, str]] = list(row.recipient_list)
    message = Message(subject=row.subject, recipients=recipients, body=row.body)
    for attachment in db.session.scalars(
        select(OutboxAttachment)
        .where(OutboxAttachment.mail_id == row.id)
        .order_by(OutboxAttachment.id)
    ):
        message.attach(attachment.filename, attachment.content_type, attachment.data)
    if message.has_bad_headers():
        raise Invalid("The subject or an address has a line break; the mail cannot be sent.")
    ctx.log(f"sending {row.subject!r} to {len(row.recipient_list)} recipient(s)")
    with _RelayConnection(current_app.extensions["mail"]) as connection:
        connection.send(message)
    row.state = MailState.SENT
    row.sent_at = utcnow()
    ctx.log("accepted by the relay")


def _gave_up(ctx: jobs.JobContext, mail_id: int) -> None:
    row = db.session.get(OutboxMail, mail_id)
    if row is not None and row.state == MailState.PENDING:
        row.state = MailState.FAILED


jobs.job(DELIVER, max_attempts=DELIVERY_ATTEMPTS, on_dead=_gave_up)(deliver)


REDELIVER = "notices.redeliver"
REDELIVER_EVERY = timedelta(hours=1)
# A mail whose delivery job gave up gets a new one this long after (a relay down for longer
# than a job's ~4 hours of back-off), for as long as the mail is younger than KEEP_TRYING.
REST = timedelta(hours=6)
KEEP_TRYING = timedelta(days=2)
REDELIVER_BATCH = 500


def redeliver(ctx: jobs.JobContext) -> None:
    """The scheduled retry of undelivered mail: a pending mail whose delivery job is gone or
    finished gets one again; a failed one, some hours after its job gave up, gets another
    (until it is two days old; staff may still retry it at /staff/mail)."""
    now = utcnow()
    rows = db.session.execute(
        select(OutboxMail, Job)
        .outerjoin(Job, Job.id == OutboxMail.job_id)
        .where(OutboxMail.state.in_(UNDELIVERED), OutboxMail.at >= now - KEEP_TRYING)
        .order_by(OutboxMail.id)
        .limit(REDELIVER_BATCH)
    ).all()
    orphans = rested = 0
    for row, delivery in rows:
        if row.state == MailState.PENDING:
            if delivery is not None and delivery.state.pending:
                continue  # its job is on it
            orphans += 1
        else:
            gave_up_at = (delivery.finished_at if delivery is not None else None) or row.at
            if (delivery is not None and delivery.state.pending) or gave_up_at > now - REST:
                continue
            rested += 1
        again = jobs.enqueue(DELIVER, subject=row, mail_id=row.id)
        row.job_id = again.id
        row.state = MailState.PENDING
    ctx.log(f"queued delivery again for {orphans} pending and {rested} failed mail(s)")


jobs.job(REDELIVER, max_attempts=3, every=REDELIVER_EVERY)(redeliver)


def retry_mail(actor: Any, mail_id: int) -> OutboxMail:
    """Staff: try an undelivered mail again now (with a fresh budget of attempts)."""
    row = db.session.get(OutboxMail, mail_id)
    if row is None or row.state not in UNDELIVERED:
        raise NotFound(f"There is no undelivered mail #{mail_id}.")
    target = db.session.get(Job, row.job_id) if row.job_id is not None else None
    if target is not None and target.state == JobState.RUNNING:
        raise Conflict(f"Mail #{mail_id} is being sent right now.")
    if target is None or target.state == JobState.SUCCEEDED:
        target = jobs.enqueue(DELIVER, mail_id=row.id)
        row.job_id = target.id
        audit.record(actor, Action.MAIL_RETRIED, row, "delivery job queued again")
    elif target.state in (JobState.FAILED, JobState.DEAD):
        jobs.retry(actor, target)
        audit.record(actor, Action.MAIL_RETRIED, row, target.last_error)
    else:  # queued, not due yet
        target.next_run_at = utcnow()
        audit.record(actor, Action.MAIL_RETRIED, row, "delivery moved to now")
    row.state = MailState.PENDING
    after_commit(MAIL_KEY, target.id)
    return row


def _attempt_now() -> None:
    """after_request: the first attempt of the delivery jobs the request committed."""
    job_ids = db.session.info.pop(_COMMITTED_KEY, None)
    if not job_ids or not current_app.config["MAIL_SEND_AT_ONCE"]:
        return
    # Whatever the view left uncommitted is not part of its act (teardown would drop it too).
    db.session.rollback()
    for job_id in job_ids:
        try:
            attempt = jobs.claim_attempt(job_id)
            if attempt is not None:
                jobs.run_job(job_id, attempt)
        except Exception:
            # The mail is committed and its job stays due: a worker delivers it.
            db.session.rollback()
            log.exception("could not attempt delivery job %s at once", job_id)


def _attempt_when_command_ends() -> None:
    # A `flask infrawg ...` command (cron sending the survey) has no request to end: the
    # first attempt comes when the command's context closes, still inside its app context.
    if has_request_context():
        return
    command = click.get_current_context(silent=True)
    if command is not None and not command.meta.get(_COMMITTED_KEY):
        command.meta[_COMMITTED_KEY] = True
        command.call_on_close(_attempt_now)


def _committed(session: Session, job_ids: list[int]) -> None:
    # Committed: the request (or command) makes their first attempt when it ends.
    session.info.setdefault(_COMMITTED_KEY, []).extend(job_ids)


def init_app(app: Flask) -> None:
    on_commit(MAIL_KEY, _committed)

    def attempt_after_request(response: Any) -> Any:
        _attempt_now()
        return response

    app.after_request(attempt_after_request)
