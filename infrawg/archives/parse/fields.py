"""What the archive reads from single header fields: ids, subject, sender and date."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import getaddresses, parseaddr, parsedate_tz
from typing import Literal

from infrawg.archives.parse.charsets import clean
from infrawg.archives.parse.headers import decode_header_value, decode_raw, fold, header_value

__all__ = [
    "MAX_REFERENCES",
    "DateSource",
    "message_date",
    "normalise_subject",
    "parse_from",
    "parse_ids",
    "parse_references",
]

#: References kept per message: the first (the thread's root) and the most recent ones.
MAX_REFERENCES = 100

DateSource = Literal["header", "received", "fallback", "none"]


# ----------------------------------------------------------------------- message ids

_ANGLE_ID = re.compile(r"<([^<>]*)>")
_MAX_ID_LENGTH = 995


def parse_ids(value: str) -> list[str]:
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
    return clean(text) if 0 < len(text) <= _MAX_ID_LENGTH else ""


def parse_references(value: str, warn: list[str]) -> tuple[str, ...]:
    """The distinct ids of a References value, at most :data:`MAX_REFERENCES` of them."""
    refs: list[str] = []
    seen: set[str] = set()
    for ref in parse_ids(value):
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
    return fold(subject[pos:]).casefold(), is_reply


# ----------------------------------------------------------------------- from & date


# "Name <addr>", "\"Name\" <addr>" or "addr (Name)": nearly every From header, parsed
# without the stdlib's character-by-character address parser.
_SIMPLE_FROM = re.compile(
    r'^(?:"?([^"<>\\=]*?)"?\s*)?<([^<>@\s"]+@[^<>@\s"]+)>$'
    r'|^([^<>@\s"()]+@[^<>@\s"()]+)(?:\s*\(([^()\\=]*)\))?$'
)


_ADDRESS_DELIMITERS = re.compile(r"[\s<>\"'(),;:]+")


def parse_from(value: str, warn: list[str]) -> tuple[str | None, str | None]:
    """(display name, lower-case address) of a folded From value; None for what is missing."""
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
            return clean(fold(decode_header_value(value, warn))) or None, None
    name = fold(decode_header_value(name, warn))
    if len(name) > 1 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1].strip()
    return clean(name) or None, clean(email.strip().lower())


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


def message_date(
    headers: dict[bytes, list[bytes]], fallback: datetime | None, warn: list[str]
) -> tuple[datetime | None, DateSource]:
    """The date (aware UTC) from Date, else the topmost Received, else ``fallback``."""
    raw = header_value(headers, b"date")
    if raw is not None:
        moment = _parse_date(fold(decode_raw(raw)))
        if moment is not None:
            return moment, "header"
        warn.append("unparsable Date header")
    else:
        warn.append("no Date header")
    # The topmost Received header is the last hop: the closest thing to a sending time.
    for received in headers.get(b"received", ())[:1]:
        _, sep, when = decode_raw(received).rpartition(";")
        moment = _parse_date(fold(when)) if sep else None
        if moment is not None:
            warn.append("date taken from the Received header")
            return moment, "received"
    if fallback is not None:
        warn.append("date taken from the fallback given by the caller")
        if fallback.tzinfo is None:
            fallback = fallback.replace(tzinfo=UTC)
        return fallback.astimezone(UTC), "fallback"
    return None, "none"
