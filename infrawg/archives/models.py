"""Archived lists, threads, messages and what hangs off them (R16).

A message is invisible until ``published`` is set: an import writes its messages with
``published`` false and sets it in one UPDATE at the end, after the list's visibility is
in place, so no page ever shows a half-imported list (or shows it at the wrong level).

The search index is not in these models: SQLite keeps an FTS5 table
``archive_message_fts`` filled by the store function, PostgreSQL a generated
``search_vector`` column with a GIN index (both made by the migration, see search.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from infrawg.enums import LabelledEnum
from infrawg.extensions import Model, enum_type
from infrawg.timeutil import utcnow

# Message ids longer than this (in UTF-8 bytes) are stored as a hash of themselves, so
# that every id fits a B-tree index on PostgreSQL (whose rows stop at ~2.7 kB).
ID_LENGTH = 512


class Visibility(LabelledEnum):
    """Who may read a list or a thread. R16: members unless an explicit act says otherwise."""

    MEMBERS = "members", "Members only"
    STAFF = "staff", "Staff only (sensitive)"
    PUBLIC = "public", "Public"

    @property
    def strictness(self) -> int:
        """Higher is more restricted; merging threads keeps the strictest level."""
        return {"public": 0, "members": 1, "staff": 2}[self.value]


class MailingList(Model):
    __tablename__ = "archive_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # R16: confidential unless stated otherwise.
    visibility: Mapped[Visibility] = mapped_column(
        enum_type(Visibility), default=Visibility.MEMBERS
    )
    # What the list is for, in a sentence or two (staff write it; its readers see it).
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_label(self) -> str:
        return f"list {self.name}"


class Thread(Model):
    """A conversation; ``root_key`` is the threading id (the topmost referenced id)."""

    __tablename__ = "archive_thread"
    __table_args__ = (UniqueConstraint("list_id", "root_key", name="uq_archive_thread_root"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("archive_list.id"), index=True)
    root_key: Mapped[str] = mapped_column(String(ID_LENGTH))
    subject: Mapped[str] = mapped_column(Text, default="")
    # None: the list's level applies. Set only by an audited act (see service.py).
    visibility: Mapped[Visibility | None] = mapped_column(enum_type(Visibility), nullable=True)

    @property
    def audit_label(self) -> str:
        return f"thread {self.subject[:200]}"


class Message(Model):
    __tablename__ = "archive_message"
    __table_args__ = (
        UniqueConstraint("list_id", "message_id", name="uq_archive_message_list_message_id"),
        Index("ix_archive_message_list_date", "list_id", "date"),
        Index("ix_archive_message_list_month", "list_id", "month"),
        Index("ix_archive_message_list_subject_key", "list_id", "subject_key"),
        Index("ix_archive_message_thread_date", "thread_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("archive_list.id"))
    thread_id: Mapped[int] = mapped_column(ForeignKey("archive_thread.id"))
    message_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    message_id_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_message_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    in_reply_to: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    subject: Mapped[str] = mapped_column(Text, default="")
    # A hash of the normalised subject: what the subject fallback of threading compares.
    subject_key: Mapped[str] = mapped_column(String(32), default="")
    is_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    from_name: Mapped[str | None] = mapped_column(Text)
    from_email: Mapped[str | None] = mapped_column(Text)
    to_addrs: Mapped[str] = mapped_column(Text, default="")
    cc_addrs: Mapped[str] = mapped_column(Text, default="")
    # Naive UTC; the receipt time when the message gave no usable date (date_source).
    date: Mapped[datetime]
    date_source: Mapped[str] = mapped_column(String(12))
    month: Mapped[str] = mapped_column(String(7))  # "YYYY-MM" of date, for month pages
    body_text: Mapped[str] = mapped_column(Text, default="")
    # Only ever the nh3-sanitised HTML part; the raw HTML is not kept outside ``raw``.
    body_html: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int]
    warnings: Mapped[str] = mapped_column(Text, default="")
    # The message as received, zlib-compressed: what the mbox export gives back.
    raw: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(40), default="import")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_label(self) -> str:
        return f"message <{self.message_id[:280]}>"


class MessageReference(Model):
    """One id a message refers to, for incremental threading (position -1: In-Reply-To)."""

    __tablename__ = "archive_message_reference"
    __table_args__ = (Index("ix_archive_message_reference_ref", "list_id", "ref_id"),)

    message_pk: Mapped[int] = mapped_column(
        ForeignKey("archive_message.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    list_id: Mapped[int]
    ref_id: Mapped[str] = mapped_column(String(ID_LENGTH))


class Attachment(Model):
    """A stored part; the bytes live on disk under ARCHIVE_DIR, named by their SHA-256."""

    __tablename__ = "archive_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_pk: Mapped[int] = mapped_column(
        ForeignKey("archive_message.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)


class Quarantine(Model):
    """A message that could not be parsed at all, kept whole with the reason (R16: staff)."""

    __tablename__ = "archive_quarantine"
    __table_args__ = (UniqueConstraint("list_id", "raw_sha256", name="uq_archive_quarantine_raw"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("archive_list.id"), index=True)
    raw: Mapped[bytes] = deferred(mapped_column(LargeBinary))  # zlib-compressed
    raw_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=1)
    resolved_at: Mapped[datetime | None]
    message_pk: Mapped[int | None] = mapped_column(
        ForeignKey("archive_message.id", ondelete="SET NULL")
    )

    @property
    def audit_label(self) -> str:
        return f"quarantined message #{self.id}"
