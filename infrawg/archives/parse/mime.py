"""The MIME structure of a body: parts, transfer encodings, parameters and attachments.

Multipart bodies are split here without the stdlib parser; only RFC 2231 parameters
are left to :mod:`email`.
"""

from __future__ import annotations

import binascii
import hashlib
import mimetypes
import re
import unicodedata
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import NamedTuple

from infrawg.archives.parse.charsets import clean, decode_base64, decode_bytes
from infrawg.archives.parse.headers import decode_header_value, decode_raw, header_value, split_head

__all__ = ["Attachment", "Body", "walk_body"]


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
    return clean(value) if isinstance(value, str) else None


def _decode_transfer(data: bytes, cte: str, warn: list[str]) -> bytes:
    cte = cte.strip().lower()
    if cte in _CTE_IDENTITY:
        return data
    if cte == "base64":
        try:
            return decode_base64(data)
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
        name = unicodedata.normalize("NFC", clean(decode_header_value(name)))
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


class Body:
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
            self.text.append(decode_bytes(payload, charset, warn)[0])
        elif content_type == "text/html" and not attached:
            self.html.append(decode_bytes(payload, charset, warn)[0])
        elif content_type.startswith("text/") and not attached and not filename:
            # text/x-patch and friends sent inline read as part of the message.
            self.text.append(decode_bytes(payload, charset, warn)[0])
        else:
            self.attachments.append(
                _attachment(filename, content_type, payload, len(self.attachments) + 1)
            )


# RFC 2045 type/subtype tokens; anything else is not a type.
_MIME_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+\Z")
# Nesting deeper than this is an attack or a loop, not mail.
_MAX_DEPTH = 20


def walk_body(
    headers: dict[bytes, list[bytes]], body: bytes, out: Body, warn: list[str], depth: int = 0
) -> None:
    """Visit a (part's) body given its headers; multiparts recurse, leaves go to ``out``."""
    content_type_raw = header_value(headers, b"content-type")
    mime_type, params = (
        _parse_params(decode_raw(content_type_raw)) if content_type_raw else ("text/plain", {})
    )
    if not _MIME_TYPE.match(mime_type):
        if content_type_raw:
            warn.append(f"invalid Content-Type {mime_type!r}, read as text/plain")
        mime_type, params = "text/plain", {}
    cte = decode_raw(header_value(headers, b"content-transfer-encoding") or b"")
    disposition_raw = header_value(headers, b"content-disposition")
    disposition, disposition_params = (
        _parse_params(decode_raw(disposition_raw)) if disposition_raw else (None, {})
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
                part_headers, start = split_head(part, warn, part=True)
                walk_body(part_headers, part[start:], out, warn, depth + 1)
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
