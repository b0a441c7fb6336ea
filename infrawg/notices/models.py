"""Every outgoing mail, kept in the transaction of the act that causes it (the outbox).

One table for both backends: with ``smtp`` a row is *pending* until the delivery job hands it
to the relay; with ``outbox`` (development) it is kept, never sent, and shown at /dev/outbox.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.extensions import Model, enum_type
from infrawg.timeutil import utcnow

if TYPE_CHECKING:
    from infrawg.jobs.models import Job


class MailState(StrEnum):
    DEVELOPMENT = "development"  # the outbox backend: kept for /dev/outbox, never sent
    PENDING = "pending"  # waiting for its delivery job (or between its retries)
    SENT = "sent"
    FAILED = "failed"  # the delivery job gave up; staff may retry

    @property
    def label(self) -> str:
        return {
            "development": "Not sent: development outbox",
            "pending": "Waiting to be sent",
            "sent": "Sent",
            "failed": "Not delivered",
        }[self.value]


UNDELIVERED = (MailState.PENDING, MailState.FAILED)


class OutboxMail(Model):
    __tablename__ = "outbox_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    recipients: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[MailState] = mapped_column(
        enum_type(MailState),
        default=MailState.DEVELOPMENT,
        server_default=MailState.DEVELOPMENT.value,
        index=True,
    )
    sent_at: Mapped[datetime | None]
    # The job that delivers it (attempts, next try and last error live there).
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"), index=True)

    job: Mapped[Job | None] = relationship(lazy="raise")
    attachments: Mapped[list[OutboxAttachment]] = relationship(
        lazy="raise", order_by="OutboxAttachment.id"
    )

    @property
    def recipient_list(self) -> list[str]:
        return [address.strip() for address in self.recipients.split(",") if address.strip()]

    @property
    def audit_label(self) -> str:
        return f"mail #{self.id} {self.subject!r}"


class OutboxAttachment(Model):
    """A file sent with a mail (an impact notice's .ics), kept with the mail's row."""

    __tablename__ = "outbox_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("outbox_mail.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    @property
    def text(self) -> str | None:
        """The file as text, for the development outbox (text/* types only)."""
        if not self.content_type.startswith("text/"):
            return None
        return self.data.decode("utf-8", errors="replace")
