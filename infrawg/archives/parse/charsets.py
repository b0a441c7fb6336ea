"""Bytes to text: declared charsets decoded best-effort, never failing."""

from __future__ import annotations

import binascii
import codecs
import re

__all__ = ["clean", "decode_base64", "decode_bytes", "decode_legacy"]


def decode_legacy(data: bytes) -> str:
    """Decode 8-bit text of unknown charset as Windows-1252 (never fails)."""
    # Windows-1252 is what "latin-1" text usually is; the five bytes it leaves undefined
    # fall back to Latin-1 so decoding cannot fail.
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def clean(text: str) -> str:
    """Remove what a database refuses: NUL characters and lone surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def decode_base64(data: bytes) -> bytes:
    """Base64-decode leniently: drop junk characters and repair the padding."""
    data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    data = data[: len(data) - len(data) % 4] if len(data) % 4 == 1 else data
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4))


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


def decode_bytes(data: bytes, charset: str | None, warn: list[str] | None) -> tuple[str, str]:
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
            return decode_legacy(data), "cp1252"
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
            return decode_legacy(data), "cp1252"
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
        return decode_legacy(data), "cp1252"


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
