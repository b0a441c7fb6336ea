"""Parse one raw mail message into the fields the archive stores.

Pure functions, no Flask and no database. Everything is best-effort: bad charsets,
malformed headers, broken MIME and garbage dates are decoded as well as possible and
noted in ``ParsedMessage.warnings``. Only input that is not a mail message at all raises
:class:`Unparseable` (see :func:`parse_message` for the exact cases).

The header block is parsed here rather than by :mod:`email` (see
:mod:`~infrawg.archives.parse.headers` for why), and so are MIME bodies
(:mod:`~infrawg.archives.parse.mime`): the stdlib only reads RFC 2231 parameters.
The other modules of the package: :mod:`~infrawg.archives.parse.fields` (ids, subject,
sender, date), :mod:`~infrawg.archives.parse.charsets` (bytes to text),
:mod:`~infrawg.archives.parse.html_policy` (what of an HTML body is shown) and
:mod:`~infrawg.archives.parse.quoting` (quoted lines, for the page).

All text returned is free of NUL characters and lone surrogates, so it can go straight
into SQLite or PostgreSQL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from infrawg.archives.parse.charsets import clean
from infrawg.archives.parse.fields import (
    MAX_REFERENCES,
    DateSource,
    message_date,
    normalise_subject,
    parse_from,
    parse_ids,
    parse_references,
)
from infrawg.archives.parse.headers import (
    MAIL_FIELDS,
    Unparseable,
    decode_header_value,
    decode_raw,
    fold,
    header_text,
    header_value,
    split_head,
)
from infrawg.archives.parse.html_policy import html_to_text, sanitise_html
from infrawg.archives.parse.mime import Attachment, Body, walk_body
from infrawg.archives.parse.quoting import BodySegment, SegmentKind, is_quoted_line, split_body

__all__ = [
    "MAX_REFERENCES",
    "Attachment",
    "BodySegment",
    "ParsedMessage",
    "SegmentKind",
    "Unparseable",
    "decode_header_value",
    "is_quoted_line",
    "normalise_subject",
    "parse_message",
    "split_body",
]


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What the archive keeps of one message.

    ``message_id``, ``in_reply_to`` and ``references`` are normalised (no angle
    brackets, no whitespace). When the message has no usable Message-ID,
    ``message_id`` is ``sha256.<content_hash>@infrawg.invalid`` and
    ``message_id_synthetic`` is true. ``references`` keeps at most
    :data:`MAX_REFERENCES` ids: the first and the latest ones.

    ``subject`` is the decoded subject with whitespace folded; ``thread_subject`` is the
    lower-cased subject without reply/forward prefixes and leading ``[tags]``, used by the
    threading fallback; ``is_reply`` says whether a reply prefix was stripped.

    ``date`` is timezone-aware UTC, or None; ``date_source`` says where it came from:
    the Date header, the newest Received header, the caller's fallback, or nowhere.

    ``body_text`` is the text/plain content (inline text parts joined), or the text of the
    HTML part when there is no plain text. ``body_html_sanitised`` is the HTML part
    cleaned by nh3 (no scripts, event handlers, ``javascript:`` URLs or remote images), or
    None. ``attachments`` are the parts that are not body text.

    ``content_hash`` is the SHA-256 (hex) of the message's identifying headers (From,
    To, Cc, Date, Subject, Message-ID, In-Reply-To, References) and its body, with line
    ends normalised: the same message delivered by LMTP and found in an mbox hashes the
    same although its Received headers differ. ``size`` is the raw length in bytes.
    """

    message_id: str
    message_id_synthetic: bool
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    thread_subject: str
    is_reply: bool
    from_name: str | None
    from_email: str | None
    to: str
    cc: str
    date: datetime | None
    date_source: DateSource
    body_text: str
    body_html_sanitised: str | None
    attachments: tuple[Attachment, ...]
    content_hash: str
    size: int
    warnings: tuple[str, ...]


_HASHED_FIELDS = (
    b"from",
    b"to",
    b"cc",
    b"date",
    b"subject",
    b"message-id",
    b"in-reply-to",
    b"references",
)


def parse_message(raw: bytes, *, fallback_date: datetime | None = None) -> ParsedMessage:
    """Parse one raw RFC 5322 message (bytes as stored in an mbox or received by LMTP).

    Raises :class:`Unparseable` only when ``raw`` is not a mail message at all: it is
    empty or blank; its first line is neither a header field nor an mbox envelope line;
    or its header block names none of the fields a mail message has (From, Date,
    Message-ID, Subject, To, Received, Content-Type, ...). Anything else, however broken,
    parses with notes in ``warnings``. ``fallback_date`` is used when neither the Date
    header nor a Received header gives a usable date.
    """
    if not raw or not raw.strip():
        raise Unparseable("empty message")
    warn: list[str] = []
    # Leading blank lines (an LMTP client's or a sloppy exporter's) are not a body.
    message = raw.lstrip(b"\r\n") if raw[:1] in (b"\r", b"\n") else raw
    headers, body_start = split_head(message, warn)
    if not MAIL_FIELDS.intersection(headers):
        raise Unparseable("no mail header fields (From, Date, Message-ID, Subject, ...)")
    raw_body = message[body_start:]

    content_hash = _content_hash(headers, raw_body)
    message_ids = parse_ids(decode_raw(header_value(headers, b"message-id") or b""))
    if message_ids:
        message_id, synthetic = message_ids[0], False
    else:
        present = header_value(headers, b"message-id") is not None
        warn.append("unusable Message-ID" if present else "no Message-ID")
        message_id, synthetic = f"sha256.{content_hash}@infrawg.invalid", True

    in_reply_to_ids = parse_ids(decode_raw(header_value(headers, b"in-reply-to") or b""))
    # Some clients put the whole ancestry in In-Reply-To; the last id is the parent.
    in_reply_to = in_reply_to_ids[-1] if in_reply_to_ids else None
    references = parse_references(decode_raw(b" ".join(headers.get(b"references", ()))), warn)

    subject = header_text(headers, b"subject", warn)
    thread_subject, is_reply = normalise_subject(subject)
    from_name, from_email = parse_from(
        fold(decode_raw(header_value(headers, b"from") or b"", warn)), warn
    )
    date, date_source = message_date(headers, fallback_date, warn)

    out = Body()
    walk_body(headers, raw_body, out, warn)

    body_html = clean("\n".join(out.html)) if out.html else None
    body_html_sanitised = sanitise_html(body_html) if body_html is not None else None
    if out.text:
        body_text = "\n".join(t.replace("\r\n", "\n") for t in out.text)
    elif body_html is not None:
        body_text = html_to_text(body_html)
    else:
        body_text = ""

    return ParsedMessage(
        message_id=clean(message_id),
        message_id_synthetic=synthetic,
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        thread_subject=thread_subject,
        is_reply=is_reply,
        from_name=from_name,
        from_email=from_email,
        to=header_text(headers, b"to", warn),
        cc=header_text(headers, b"cc", warn),
        date=date,
        date_source=date_source,
        body_text=clean(body_text),
        body_html_sanitised=body_html_sanitised,
        attachments=tuple(out.attachments),
        content_hash=content_hash,
        size=len(raw),
        warnings=tuple(dict.fromkeys(warn)),
    )


def _content_hash(headers: dict[bytes, list[bytes]], body: bytes) -> str:
    digest = hashlib.sha256()
    for name in _HASHED_FIELDS:
        for value in headers.get(name, ()):
            digest.update(name + b":" + b" ".join(value.split()) + b"\n")
    digest.update(b"\n")
    digest.update(body.replace(b"\r\n", b"\n").rstrip())
    return digest.hexdigest()
