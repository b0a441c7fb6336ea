"""Parse one raw mail message into the fields the archive stores.

Pure functions, no Flask and no database. Everything is best-effort: bad charsets,
malformed headers, broken MIME and garbage dates are decoded as well as possible and
noted in ``ParsedMessage.warnings``. Only input that is not a mail message at all raises
:class:`Unparseable` (see :func:`parse_message` for the exact cases).

Why the header block is parsed here rather than by :mod:`email`: the stdlib parser
spends most of its time on headers (about 250 us per message of the corpus), and the
archive needs a dozen of them. Single-part messages (most list traffic) are decoded
without the stdlib parser at all; multipart bodies go through ``email``'s compat32
parser, fed only the Content-Type header, which keeps its cost on the body.

All text returned is free of NUL characters and lone surrogates, so it can go straight
into SQLite or PostgreSQL.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import html
import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.message import Message
from email.utils import collapse_rfc2231_value, getaddresses, parseaddr, parsedate_tz
from typing import Literal, NamedTuple

import nh3

__all__ = [
    "MAX_REFERENCES",
    "Attachment",
    "BodySegment",
    "ParsedMessage",
    "Unparseable",
    "decode_header_value",
    "is_quoted_line",
    "normalise_subject",
    "parse_message",
    "split_quotes",
]

#: References kept per message: the first (the thread's root) and the most recent ones.
MAX_REFERENCES = 100

DateSource = Literal["header", "received", "fallback", "none"]


class Unparseable(ValueError):
    """Raised when the input is not a mail message at all; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Attachment(NamedTuple):
    """A stored part: sanitised file name, MIME type, decoded bytes, their SHA-256 (hex)."""

    filename: str
    content_type: str
    payload: bytes
    sha256: str

    @property
    def size(self) -> int:
        """Size of the decoded payload in bytes."""
        return len(self.payload)


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


# --------------------------------------------------------------------------- headers

# Headers whose presence makes a header block a mail message rather than, say, a log
# excerpt that happens to start with "Error: ...".
_MAIL_FIELDS = frozenset(
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
_USED_FIELDS = _MAIL_FIELDS | {b"content-transfer-encoding", b"content-disposition"}
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


# One field with its continuation lines; the block regex checks in C that a whole header
# block is made of fields, and findall then cuts it up, rather than a Python loop per line.
_FIELD_LINES = re.compile(rb"([!-9;-~]+)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)")
_FIELD_BLOCK = re.compile(rb"(?:[!-9;-~]+[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*(?:\n|\Z))*")
_BLANK_LINE = re.compile(rb"\n\r?\n")


def _split_head(
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
    fields_end = _FIELD_BLOCK.match(raw, pos, block_end).end()
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


def _text(value: bytes, warn: list[str] | None = None) -> str:
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
        return _legacy(value)


def _legacy(data: bytes) -> str:
    # Windows-1252 is what "latin-1" text usually is; the five bytes it leaves undefined
    # fall back to Latin-1 so decoding cannot fail.
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _clean(text: str) -> str:
    """Remove what a database refuses: NUL characters and lone surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _fold(text: str) -> str:
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
            out.append(_decode_bytes(bytes(pending), pending_charset, warn)[0])
            pending.clear()
        if not pending:
            out.append(gap)
        charset, kind, data = match.group(1).lower(), match.group(2), match.group(3)
        try:
            if kind in "Bb":
                chunk = _b64(data.encode("ascii", "replace"))
            else:
                chunk = binascii.a2b_qp(data.encode("ascii", "replace"), header=True)
        except binascii.Error:
            if warn is not None:
                warn.append("undecodable encoded word in a header kept as is")
            chunk = match.group(0).encode("utf-8")
            charset = "utf-8"
        if pending and charset != pending_charset:
            out.append(_decode_bytes(bytes(pending), pending_charset, warn)[0])
            pending.clear()
        pending += chunk
        pending_charset = charset
        pos = match.end()
    if pending:
        out.append(_decode_bytes(bytes(pending), pending_charset, warn)[0])
    out.append(value[pos:])
    return "".join(out)


def _b64(data: bytes) -> bytes:
    """Base64-decode leniently: drop junk characters and repair the padding."""
    data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    data = data[: len(data) - len(data) % 4] if len(data) % 4 == 1 else data
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4))


# No honest From, Subject, To or Date is this long; cutting bounds the work on junk.
_MAX_HEADER = 32 * 1024


def _header(headers: dict[bytes, list[bytes]], name: bytes) -> bytes | None:
    values = headers.get(name)
    if not values:
        return None
    value = values[0]
    return value if len(value) <= _MAX_HEADER or name == b"references" else value[:_MAX_HEADER]


def _header_text(headers: dict[bytes, list[bytes]], name: bytes, warn: list[str]) -> str:
    value = _header(headers, name)
    if value is None:
        return ""
    return _clean(_fold(decode_header_value(_text(value, warn), warn)))


# ----------------------------------------------------------------------- message ids

_ANGLE_ID = re.compile(r"<([^<>]*)>")
_MAX_ID_LENGTH = 995


def _ids(value: str) -> list[str]:
    """Every message id in a References-like value, in order, normalised."""
    found = [_normalise_id(m) for m in _ANGLE_ID.findall(value)]
    if not found and "@" in value:
        # Broken clients drop the angle brackets; take the tokens that look like ids.
        found = [_normalise_id(t) for t in value.replace(",", " ").split() if "@" in t]
    return [i for i in found if i]


_NOT_IN_ID = re.compile(r"[\x00-\x20\x7f\s]+")


def _normalise_id(text: str) -> str:
    # Folding can put white space inside a long id; ids contain none, nor controls.
    text = _NOT_IN_ID.sub("", text).strip("<>")
    return _clean(text) if 0 < len(text) <= _MAX_ID_LENGTH else ""


def _references(value: str, warn: list[str]) -> tuple[str, ...]:
    refs: list[str] = []
    seen: set[str] = set()
    for ref in _ids(value):
        if ref not in seen:
            seen.add(ref)
            refs.append(ref)
    if len(refs) > MAX_REFERENCES:
        warn.append(f"{len(refs)} references, kept the first and the last {MAX_REFERENCES - 1}")
        # The first reference names the thread's root and the last ones the direct
        # ancestry: the middle adds nothing to threading.
        refs = [refs[0], *refs[-(MAX_REFERENCES - 1) :]]
    return tuple(refs)


# --------------------------------------------------------------------------- subject

_SUBJECT_PREFIX = re.compile(
    r"""\s*(?:
        (?P<reply>re|aw|sv|vs|antw|odp|rif|r|ynt|res|atb|vá|回复|答复)
            (?:\s*\[\d+\]|\s*\(\d+\)|\^\d+)?\s*[:\uff1a]
      | (?:fwd?|fw|wg|tr|rv|enc|i|doorst|vl|přeposlat|转发)\s*[:\uff1a]
      | \[(?![^\]]*(?:patch|rfc|resend|pull|git|\d+/\d+))[^\]]*\]
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)


def normalise_subject(subject: str) -> tuple[str, bool]:
    """Return (subject key for threading, whether a reply prefix was stripped).

    Strips any mix of reply prefixes (Re:, AW:, SV:, Re[2]: ...), forward prefixes
    (Fwd:, WG: ...) and leading tags such as ``[linux-i2c]`` or ``[EXT]``, then
    lower-cases and folds white space. Patch tags (``[PATCH v2 1/3]``, ``[RFC]``,
    ``[GIT PULL]``) stay: on a patch list, v2 and v3 of a series, or a cover letter and
    its first patch, are different conversations with the same words.
    """
    is_reply = False
    pos = 0
    while True:
        match = _SUBJECT_PREFIX.match(subject, pos)
        if match is None or match.end() == pos:
            break
        if match.group("reply"):
            is_reply = True
        pos = match.end()
    return _fold(subject[pos:]).casefold(), is_reply


# ----------------------------------------------------------------------- from & date


# "Name <addr>", "\"Name\" <addr>" or "addr (Name)": nearly every From header, parsed
# without the stdlib's character-by-character address parser.
_SIMPLE_FROM = re.compile(
    r'^(?:"?([^"<>\\=]*?)"?\s*)?<([^<>@\s"]+@[^<>@\s"]+)>$'
    r'|^([^<>@\s"()]+@[^<>@\s"()]+)(?:\s*\(([^()\\=]*)\))?$'
)


_ADDRESS_DELIMITERS = re.compile(r"[\s<>\"'(),;:]+")


def _from(value: str, warn: list[str]) -> tuple[str | None, str | None]:
    if not value:
        warn.append("no From header")
        return None, None
    simple = _SIMPLE_FROM.match(value)
    if simple is not None:
        name = simple.group(1) or simple.group(4) or ""
        email = simple.group(2) or simple.group(3)
    else:
        name, email = parseaddr(value)
    if not email or "@" not in email:
        pairs = getaddresses([value])
        name, email = next(((n, e) for n, e in pairs if "@" in e), (name, ""))
    if not email or "@" not in email:
        # Split rather than search: a search for "x+@" is quadratic on a long junk value.
        tokens = (t for t in _ADDRESS_DELIMITERS.split(value) if "@" in t.strip("@"))
        email = next(tokens, "")
        if not email:
            warn.append("From header without an address")
            return _clean(_fold(decode_header_value(value, warn))) or None, None
    name = _fold(decode_header_value(name, warn))
    if len(name) > 1 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1].strip()
    return _clean(name) or None, _clean(email.strip().lower())


_EPOCH_MIN = datetime(1971, 1, 1, tzinfo=UTC)
_EPOCH_MAX = datetime(2100, 1, 1, tzinfo=UTC)


def _parse_date(value: str) -> datetime | None:
    """Parse an RFC 5322 date leniently to aware UTC; None when it makes no sense."""
    parts = parsedate_tz(value) if value else None
    if parts is None:
        return None
    try:
        offset = parts[9] or 0  # "-0000" means "unknown zone": treat as UTC
        moment = datetime(*parts[:6], tzinfo=timezone(timedelta(seconds=offset)))
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError, TypeError):
        return None
    if not _EPOCH_MIN <= moment < _EPOCH_MAX:
        return None
    return moment


def _date(
    headers: dict[bytes, list[bytes]], fallback: datetime | None, warn: list[str]
) -> tuple[datetime | None, DateSource]:
    raw = _header(headers, b"date")
    if raw is not None:
        moment = _parse_date(_fold(_text(raw)))
        if moment is not None:
            return moment, "header"
        warn.append("unparsable Date header")
    else:
        warn.append("no Date header")
    # The topmost Received header is the last hop: the closest thing to a sending time.
    for received in headers.get(b"received", ())[:1]:
        _, sep, when = _text(received).rpartition(";")
        moment = _parse_date(_fold(when)) if sep else None
        if moment is not None:
            warn.append("date taken from the Received header")
            return moment, "received"
    if fallback is not None:
        warn.append("date taken from the fallback given by the caller")
        if fallback.tzinfo is None:
            fallback = fallback.replace(tzinfo=UTC)
        return fallback.astimezone(UTC), "fallback"
    return None, "none"


# ------------------------------------------------------------------------ charsets

# Declared names that Python lacks or that name a subset of what senders really use.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "big5": "big5hkscs",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "x-mac-roman": "mac-roman",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
# Charsets in which ASCII-range bytes are not ASCII text (escape sequences, UTF-16).
_NO_ASCII_SHORTCUT = ("iso-2022", "utf-7", "unicode-1-1-utf-7", "hz", "utf-16", "utf-32", "ucs")
# Charsets that say "no idea": decode as if none was declared.
_NO_CHARSET = frozenset({"", "us-ascii", "ascii", "ansi_x3.4-1968", "unknown-8bit", "x-unknown"})
# Single-byte charsets that decode any bytes; text declared as one of these but valid
# UTF-8 with multi-byte sequences is UTF-8 mislabelled (the reverse is very unlikely).
_SINGLE_BYTE = re.compile(r"^(?:iso-?8859-\d+|latin-?\d|windows-125\d|cp125\d|koi8-.*)$")


def _decode_bytes(data: bytes, charset: str | None, warn: list[str] | None) -> tuple[str, str]:
    """Decode ``data`` declared as ``charset`` best-effort; return (text, codec used)."""
    declared = (charset or "").strip().strip("\"'").lower()
    if not declared.startswith(_NO_ASCII_SHORTCUT):
        try:
            return data.decode("ascii"), "ascii"
        except UnicodeDecodeError:
            pass
    if declared in _NO_CHARSET:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            if warn is not None and declared:
                warn.append(f"8-bit text declared {declared!r}, read as Windows-1252")
            return _legacy(data), "cp1252"
    codec = _text_codec(_CHARSET_ALIASES.get(declared, declared))
    if codec is None:
        try:
            text = data.decode("utf-8")
            if warn is not None:
                warn.append(f"unknown charset {declared!r}, read as UTF-8")
            return text, "utf-8"
        except UnicodeDecodeError:
            if warn is not None:
                warn.append(f"unknown charset {declared!r}, read as Windows-1252")
            return _legacy(data), "cp1252"
    if codec in {"latin-1", "iso8859-1"}:
        codec = "cp1252"  # what "ISO-8859-1" mail really is, as browsers also assume
    if _SINGLE_BYTE.match(declared) or codec == "cp1252":
        try:
            text = data.decode("utf-8")
            if warn is not None:
                warn.append(f"text declared {declared!r} is UTF-8, read as UTF-8")
            return text, "utf-8"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode(codec), codec
    except UnicodeError:
        pass
    if codec == "cp1252":
        return data.decode("latin-1"), "latin-1"
    if codec != "utf-8":
        try:
            text = data.decode("utf-8")
            if warn is not None:
                warn.append(f"text declared {declared!r} is UTF-8, read as UTF-8")
            return text, "utf-8"
        except UnicodeDecodeError:
            pass
    if warn is not None:
        warn.append(f"invalid {declared!r} text, bad bytes replaced")
    try:
        return data.decode(codec, "replace"), codec
    except UnicodeError:  # a codec that fails even with "replace" (utf-7 on junk)
        return _legacy(data), "cp1252"


# Codecs Python has that are not charsets a mail can be written in.
_NOT_MAIL_CODECS = frozenset(
    {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined", "mbcs", "oem"}
)


def _text_codec(name: str) -> str | None:
    """Python's name for charset ``name``, or None when it is unknown or not a charset
    (``rot13``, ``zlib`` and ``hex`` are codecs too, but not text encodings)."""
    if not name or len(name) > 40 or not name.isascii():
        return None
    try:
        codec = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(codec, "_is_text_encoding", True):  # bytes-to-bytes: zlib, hex, ...
        return None
    normalised = codec.name.replace("_", "-")
    return None if normalised in _NOT_MAIL_CODECS else codec.name


# ----------------------------------------------------------------------------- HTML

# img is left out on purpose: a remote image in a confidential archive tells its sender
# who read the message and when.
_HTML_TAGS = frozenset(nh3.ALLOWED_TAGS - {"img"})
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_BLOCK_END = re.compile(r"(?i)(<br\s*/?>|</(?:p|div|tr|li|h[1-6]|blockquote|pre|table)\s*>)")


def _sanitise_html(markup: str) -> str:
    return nh3.clean(
        markup,
        tags=set(_HTML_TAGS),
        url_schemes=set(_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def _html_to_text(markup: str) -> str:
    """Plain text of an HTML body, for search and for messages without a text part."""
    marked = _BLOCK_END.sub(lambda m: m.group(1) + "\n", markup)
    text = html.unescape(nh3.clean(marked, tags=set(), strip_comments=True))
    lines = (_fold(line) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ------------------------------------------------------------------------------ MIME

_CTE_IDENTITY = frozenset({"", "7bit", "8bit", "binary", "7-bit", "8-bit"})


_PARAM = re.compile(r';\s*([^\s=;"]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')


def _parse_params(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type/-Disposition value into (lower-case token, {param: value})."""
    token, _, rest = value.partition(";")
    params: dict[str, str] = {}
    if rest:
        if "*" in rest:
            # RFC 2231 (name*=utf-8''..., continuations): rare, left to the stdlib.
            holder = Message()
            holder["X"] = value
            for key, param in holder.get_params([], header="X")[1:]:
                params[key.lower()] = _param(param) or ""
            for key in ("filename", "name"):
                if key in params:
                    decoded = holder.get_param(key, header="X")
                    params[key] = _param(decoded) or params[key]
        else:
            for key, param in _PARAM.findall(";" + rest):
                if param.startswith('"'):
                    param = re.sub(r"\\(.)", r"\1", param[1:-1])
                params.setdefault(key.lower(), param)
    return "".join(token.split()).lower(), params


def _param(value: object) -> str | None:
    # The stdlib returns a (charset, language, value) triple for RFC 2231 parameters.
    if isinstance(value, tuple):
        try:
            value = collapse_rfc2231_value(value, errors="replace")
        except LookupError:  # an unknown charset named in the parameter
            value = collapse_rfc2231_value((None, None, value[2]))
    return _clean(value) if isinstance(value, str) else None


def _decode_transfer(data: bytes, cte: str, warn: list[str]) -> bytes:
    cte = cte.strip().lower()
    if cte in _CTE_IDENTITY:
        return data
    if cte == "base64":
        try:
            return _b64(data)
        except binascii.Error:
            warn.append("base64 body could not be decoded; kept as is")
            return data
    if cte == "quoted-printable":
        return binascii.a2b_qp(data)
    warn.append(f"unknown Content-Transfer-Encoding {cte!r}; body kept as is")
    return data


_FILENAME_BAD = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


def _sanitise_filename(name: str | None, content_type: str, number: int) -> str:
    """A file name safe to show and to offer for download: no path, no control chars."""
    if name:
        name = unicodedata.normalize("NFC", _clean(decode_header_value(name)))
        name = re.split(r"[/\\]", name)[-1]  # a path given by the sender is not ours
        name = _FILENAME_BAD.sub("_", name).strip(" ._")
    if not name:
        extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
        name = f"attachment-{number}{extension}"
    if len(name.encode("utf-8")) > 200:
        stem, dot, extension = name.rpartition(".")
        keep = extension if dot and len(extension) <= 16 else ""
        stem = (stem if keep else name).encode("utf-8")[:180].decode("utf-8", "ignore")
        name = f"{stem}.{keep}" if keep else stem
    return name


def _attachment(name: str | None, content_type: str, payload: bytes, number: int) -> Attachment:
    return Attachment(
        _sanitise_filename(name, content_type, number),
        content_type,
        payload,
        hashlib.sha256(payload).hexdigest(),
    )


class _Body:
    """Accumulates text, HTML and attachments while the parts are visited."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []

    def add(
        self,
        content_type: str,
        disposition: str | None,
        filename: str | None,
        payload: bytes,
        charset: str | None,
        warn: list[str],
    ) -> None:
        attached = disposition == "attachment"
        if content_type == "text/plain" and not attached:
            self.text.append(_decode_bytes(payload, charset, warn)[0])
        elif content_type == "text/html" and not attached:
            self.html.append(_decode_bytes(payload, charset, warn)[0])
        elif content_type.startswith("text/") and not attached and not filename:
            # text/x-patch and friends sent inline read as part of the message.
            self.text.append(_decode_bytes(payload, charset, warn)[0])
        else:
            self.attachments.append(
                _attachment(filename, content_type, payload, len(self.attachments) + 1)
            )


# RFC 2045 type/subtype tokens; anything else is not a type.
_MIME_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+\Z")
# Nesting deeper than this is an attack or a loop, not mail.
_MAX_DEPTH = 20


def _body_parts(
    headers: dict[bytes, list[bytes]], body: bytes, out: _Body, warn: list[str], depth: int = 0
) -> None:
    """Visit a (part's) body given its headers; multiparts recurse, leaves go to ``out``."""
    content_type_raw = _header(headers, b"content-type")
    mime_type, params = (
        _parse_params(_text(content_type_raw)) if content_type_raw else ("text/plain", {})
    )
    if not _MIME_TYPE.match(mime_type):
        if content_type_raw:
            warn.append(f"invalid Content-Type {mime_type!r}, read as text/plain")
        mime_type, params = "text/plain", {}
    cte = _text(_header(headers, b"content-transfer-encoding") or b"")
    disposition_raw = _header(headers, b"content-disposition")
    disposition, disposition_params = (
        _parse_params(_text(disposition_raw)) if disposition_raw else (None, {})
    )
    filename = disposition_params.get("filename") or params.get("name")

    if mime_type.startswith("multipart/"):
        boundary = params.get("boundary", "")
        parts = _split_multipart(body, boundary, warn) if boundary else None
        if parts is None:
            warn.append("multipart without its boundary, read as text")
            mime_type = "text/plain"
        elif depth >= _MAX_DEPTH:
            warn.append("MIME parts nested too deeply; the inner ones are skipped")
            return
        else:
            for part in parts:
                part_headers, start = _split_head(part, warn, part=True)
                _body_parts(part_headers, part[start:], out, warn, depth + 1)
            return
    payload = _decode_transfer(body, cte, warn)
    if mime_type.startswith("message/"):
        # A forwarded or bounced message is kept whole, as its sender attached it.
        number = len(out.attachments) + 1
        out.attachments.append(_attachment(filename, mime_type, payload, number))
        return
    out.add(mime_type, disposition, filename, payload, params.get("charset"), warn)


def _split_multipart(body: bytes, boundary: str, warn: list[str]) -> list[bytes] | None:
    """The parts of a multipart body (preamble and epilogue dropped), or None when the
    boundary never occurs. The line end before a delimiter belongs to the delimiter."""
    delimiter = b"--" + boundary.encode("ascii", "replace")
    parts: list[bytes] = []
    part_start = -1  # where the current part's content begins; -1 before the first one
    pos = 0
    while True:
        found = body.find(delimiter, pos)
        if found < 0:
            break
        pos = found + len(delimiter)
        if found and body[found - 1] != 10:  # not at the start of a line
            continue
        nl = body.find(b"\n", pos)
        line_end = len(body) if nl < 0 else nl + 1
        rest = body[pos:line_end]
        closing = rest.startswith(b"--")
        if rest.strip() and not closing:
            continue  # a longer boundary that merely starts with ours
        if part_start >= 0:
            end = found - 1 if found else 0
            if end > part_start and body[end - 1] == 13:  # CRLF before the delimiter
                end -= 1
            parts.append(body[part_start : max(end, part_start)])
        part_start = line_end
        pos = line_end
        if closing:
            return parts
    if part_start < 0:
        return None
    warn.append("truncated: multipart not closed")
    parts.append(body[part_start:])
    return parts


# ---------------------------------------------------------------------------- public


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
    headers, body_start = _split_head(message, warn)
    if not _MAIL_FIELDS.intersection(headers):
        raise Unparseable("no mail header fields (From, Date, Message-ID, Subject, ...)")
    raw_body = message[body_start:]

    content_hash = _content_hash(headers, raw_body)
    message_ids = _ids(_text(_header(headers, b"message-id") or b""))
    if message_ids:
        message_id, synthetic = message_ids[0], False
    else:
        present = _header(headers, b"message-id") is not None
        warn.append("unusable Message-ID" if present else "no Message-ID")
        message_id, synthetic = f"sha256.{content_hash}@infrawg.invalid", True

    in_reply_to_ids = _ids(_text(_header(headers, b"in-reply-to") or b""))
    # Some clients put the whole ancestry in In-Reply-To; the last id is the parent.
    in_reply_to = in_reply_to_ids[-1] if in_reply_to_ids else None
    references = _references(_text(b" ".join(headers.get(b"references", ()))), warn)

    subject = _header_text(headers, b"subject", warn)
    thread_subject, is_reply = normalise_subject(subject)
    from_name, from_email = _from(_fold(_text(_header(headers, b"from") or b"", warn)), warn)
    date, date_source = _date(headers, fallback_date, warn)

    out = _Body()
    _body_parts(headers, raw_body, out, warn)

    body_html = _clean("\n".join(out.html)) if out.html else None
    body_html_sanitised = _sanitise_html(body_html) if body_html is not None else None
    if out.text:
        body_text = "\n".join(t.replace("\r\n", "\n") for t in out.text)
    elif body_html is not None:
        body_text = _html_to_text(body_html)
    else:
        body_text = ""

    return ParsedMessage(
        message_id=_clean(message_id),
        message_id_synthetic=synthetic,
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        thread_subject=thread_subject,
        is_reply=is_reply,
        from_name=from_name,
        from_email=from_email,
        to=_header_text(headers, b"to", warn),
        cc=_header_text(headers, b"cc", warn),
        date=date,
        date_source=date_source,
        body_text=_clean(body_text),
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


# ----------------------------------------------------------------------- quoting


@dataclass(frozen=True, slots=True)
class BodySegment:
    """A run of body lines: ``quoted`` ones (``>`` at the start) or the author's own."""

    quoted: bool
    text: str

    @property
    def line_count(self) -> int:
        """Number of lines in the segment (for "show 42 quoted lines")."""
        return self.text.count("\n") + 1


def is_quoted_line(line: str) -> bool:
    """True for a line quoting an earlier message (starts with ``>``).

    Only a ``>`` in the first column counts: an indented ``>`` is more often a diff
    context line or code than a quote.
    """
    return line.startswith(">")


def split_quotes(text: str) -> list[BodySegment]:
    """Split a body into alternating own-text and quoted segments, for folding quotes.

    Blank lines between two quoted lines belong to the quote. Joining the segments'
    texts with ``"\\n"`` gives back ``text`` exactly.
    """
    lines = text.split("\n")
    kinds = [is_quoted_line(line) for line in lines]
    # A blank run sandwiched between quoted lines is part of the quote.
    i = 0
    while i < len(lines):
        if not kinds[i] and not lines[i].strip() and i > 0 and kinds[i - 1]:
            j = i
            while j < len(lines) and not kinds[j] and not lines[j].strip():
                j += 1
            if j < len(lines) and kinds[j]:
                for k in range(i, j):
                    kinds[k] = True
            i = j
        else:
            i += 1
    segments: list[BodySegment] = []
    start = 0
    for i in range(1, len(lines) + 1):
        if i == len(lines) or kinds[i] != kinds[start]:
            segments.append(BodySegment(kinds[start], "\n".join(lines[start:i])))
            start = i
    return segments
