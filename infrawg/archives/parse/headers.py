"""The header block of a message or MIME part, and decoding header values to text.

Why the header block is parsed here rather than by :mod:`email`: the stdlib parser
spends most of its time on headers (about 250 us per message of the corpus), and the
archive needs a dozen of them.
"""

from __future__ import annotations

import binascii
import re

from infrawg.archives.parse.charsets import clean, decode_base64, decode_bytes, decode_legacy

__all__ = [
    "MAIL_FIELDS",
    "Unparseable",
    "decode_header_value",
    "decode_raw",
    "fold",
    "header_text",
    "header_value",
    "split_head",
]


class Unparseable(ValueError):
    """Raised when the input is not a mail message at all; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Headers whose presence makes a header block a mail message rather than, say, a log
# excerpt that happens to start with "Error: ...".
MAIL_FIELDS = frozenset(
    {
        b"from",
        b"sender",
        b"date",
        b"message-id",
        b"subject",
        b"to",
        b"cc",
        b"in-reply-to",
        b"references",
        b"received",
        b"mime-version",
        b"content-type",
        b"return-path",
    }
)
_USED_FIELDS = MAIL_FIELDS | {b"content-transfer-encoding", b"content-disposition"}

# One field with its continuation lines; the block regex checks in C that a whole header
# block is made of fields, and findall then cuts it up, rather than a Python loop per line.
_FIELD_LINES = re.compile(rb"([!-9;-~]+)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)")
_FIELD_BLOCK = re.compile(rb"(?:[!-9;-~]+[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*(?:\n|\Z))*")
_BLANK_LINE = re.compile(rb"\n\r?\n")


def split_head(
    raw: bytes, warn: list[str], *, part: bool = False
) -> tuple[dict[bytes, list[bytes]], int]:
    """Parse the header block; return {lower-case name: [unfolded values]} and body start.

    With ``part`` (a MIME part, whose header block may be empty or broken) nothing
    raises: a part without header fields is all body.
    """
    pos = 0
    if not part and raw.startswith(b"From "):
        # An mbox envelope line left in front of the message: not a header.
        nl = raw.find(b"\n")
        pos = len(raw) if nl < 0 else nl + 1
    if raw.startswith(b"\n", pos) or raw.startswith(b"\r\n", pos):
        if part:
            return {}, pos + (1 if raw[pos] == 10 else 2)
        raise Unparseable("no header fields: the message starts with its body")
    blank = _BLANK_LINE.search(raw, pos)
    block_end, body_start = (blank.start() + 1, blank.end()) if blank else (len(raw), len(raw))
    # The pattern matches the empty string too: it always matches.
    fields = _FIELD_BLOCK.match(raw, pos, block_end)
    fields_end = fields.end() if fields else pos
    if fields_end == pos:
        if part:
            return {}, pos
        if pos == len(raw):
            raise Unparseable("empty message after the mbox envelope line")
        if raw[pos : pos + 1] in (b" ", b"\t"):
            raise Unparseable("starts with a continuation line, not a header field")
        raise Unparseable("no header fields: not a mail message")
    if fields_end < block_end:
        # As the stdlib does: a line that is not a header field ends the block.
        warn.append("malformed header line; the body starts there")
        body_start = fields_end
    elif blank is None and not part:
        warn.append("truncated: the message ends inside its header block")
    headers: dict[bytes, list[bytes]] = {}
    for name, value in _FIELD_LINES.findall(raw, pos, fields_end):
        key = name.lower()
        # A message has ~30 fields, a dozen Received among them; only the topmost
        # Received is used (as a date fallback), and unfolding the rest is wasted time.
        if key in _USED_FIELDS and (key != b"received" or key not in headers):
            if b"\n" in value:
                value = value.replace(b"\r\n", b"").replace(b"\n", b"")
            headers.setdefault(key, []).append(value.rstrip(b"\r"))
    return headers, body_start


def decode_raw(value: bytes, warn: list[str] | None = None) -> str:
    """Decode raw header bytes: ASCII, else UTF-8, else Windows-1252 (never fails)."""
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        pass
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        if warn is not None:
            warn.append("header with raw 8-bit bytes that are not UTF-8, read as Windows-1252")
        return decode_legacy(value)


def fold(text: str) -> str:
    """Fold every run of white space (line breaks too) into one space; strip the ends."""
    return " ".join(text.split())


# RFC 2047 encoded word; the language suffix of RFC 2231 ("utf-8*en") is tolerated.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t\r\n]*")


def decode_header_value(value: str, warn: list[str] | None = None) -> str:
    """Decode RFC 2047 encoded words in ``value``; unknown charsets fall back, never raise.

    Adjacent encoded words in the same charset are decoded together because senders
    split multi-byte characters across them; white space between encoded words is
    dropped as RFC 2047 requires.
    """
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: bytearray = bytearray()
    pending_charset = ""
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        if pending and not _BETWEEN_WORDS.fullmatch(gap):
            out.append(decode_bytes(bytes(pending), pending_charset, warn)[0])
            pending.clear()
        if not pending:
            out.append(gap)
        charset, kind, data = match.group(1).lower(), match.group(2), match.group(3)
        try:
            if kind in "Bb":
                chunk = decode_base64(data.encode("ascii", "replace"))
            else:
                chunk = binascii.a2b_qp(data.encode("ascii", "replace"), header=True)
        except binascii.Error:
            if warn is not None:
                warn.append("undecodable encoded word in a header kept as is")
            chunk = match.group(0).encode("utf-8")
            charset = "utf-8"
        if pending and charset != pending_charset:
            out.append(decode_bytes(bytes(pending), pending_charset, warn)[0])
            pending.clear()
        pending += chunk
        pending_charset = charset
        pos = match.end()
    if pending:
        out.append(decode_bytes(bytes(pending), pending_charset, warn)[0])
    out.append(value[pos:])
    return "".join(out)


# No honest From, Subject, To or Date is this long; cutting bounds the work on junk.
_MAX_HEADER = 32 * 1024


def header_value(headers: dict[bytes, list[bytes]], name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case), cut to a sane length, or None."""
    values = headers.get(name)
    if not values:
        return None
    value = values[0]
    return value if len(value) <= _MAX_HEADER or name == b"references" else value[:_MAX_HEADER]


def header_text(headers: dict[bytes, list[bytes]], name: bytes, warn: list[str]) -> str:
    """Header ``name`` decoded, folded and cleaned; empty when it is missing."""
    value = header_value(headers, name)
    if value is None:
        return ""
    return clean(fold(decode_header_value(decode_raw(value, warn), warn)))
