"""parse_message on crafted bad input: charsets, headers, MIME, HTML, ids, dates."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from infrawg.archives.parse import (
    MAX_REFERENCES,
    SegmentKind,
    Unparseable,
    normalise_subject,
    parse_message,
    split_body,
)

Make = Callable[..., bytes]


def multipart(*parts: tuple[str, bytes], boundary: str = "XyZ", kind: str = "mixed") -> bytes:
    """A multipart body (headers of each part, then its body) for make_message."""
    out = b""
    for head, body in parts:
        out += f"--{boundary}\n{head}\n\n".encode() + body + b"\n"
    return out + f"--{boundary}--\n".encode()


def mime_headers(kind: str = "mixed", boundary: str = "XyZ") -> dict[str, str]:
    return {"MIME-Version": "1.0", "Content-Type": f'multipart/{kind}; boundary="{boundary}"'}


# ----------------------------------------------------------------------- basics


def test_fields_of_an_ordinary_message(make_message: Make) -> None:
    raw = make_message(
        headers={
            "In-Reply-To": "<parent@x>",
            "References": "<root@x>\n <parent@x>",
            "Cc": "=?utf-8?q?J=C3=B6rg?= <j@x.de>",
        },
        subject="Re: [PATCH v2 1/3] i2c: at91:\n handle TXRDY",
        body="Hi,\n\n> quoted\n\nThanks.\n",
    )

    message = parse_message(raw)

    assert message.message_id == "m1@example.org"
    assert not message.message_id_synthetic
    assert message.in_reply_to == "parent@x"
    assert message.references == ("root@x", "parent@x")
    assert message.subject == "Re: [PATCH v2 1/3] i2c: at91: handle TXRDY"
    assert message.thread_subject == "[patch v2 1/3] i2c: at91: handle txrdy"
    assert message.is_reply
    assert (message.from_name, message.from_email) == ("Ann Example", "ann@example.org")
    assert message.cc == "Jörg <j@x.de>"
    assert message.date == datetime(2019, 4, 29, 9, 0, 5, tzinfo=UTC)
    assert message.date_source == "header"
    assert message.body_text == "Hi,\n\n> quoted\n\nThanks.\n"
    assert message.body_html_sanitised is None
    assert message.attachments == ()
    assert message.warnings == ()


def test_rfc2047_subject_split_inside_a_multibyte_character(make_message: Make) -> None:
    # "Größe" in UTF-8 split between two encoded words in the middle of "ö".
    raw = make_message(subject="=?UTF-8?B?R3LD?=\n =?UTF-8?B?tsOfZQ==?= ok")
    assert parse_message(raw).subject == "Größe ok"


@pytest.mark.parametrize(
    ("subject", "key", "is_reply"),
    [
        ("Re: Re: AW: hello", "hello", True),
        ("[linux-i2c] Re: hello  world", "hello world", True),
        ("Fwd: [PATCH 0/3] Foo", "[patch 0/3] foo", False),
        ("RE: [EXT] Re: [PATCH v2] i2c: x", "[patch v2] i2c: x", True),
        ("[RFC][PATCH] x", "[rfc][patch] x", False),
        ("RE[2]: Foo", "foo", True),
        ("SV:Foo", "foo", True),
        ("i2c: fix", "i2c: fix", False),
        ("r8169: fix", "r8169: fix", False),
    ],
)
def test_normalised_subject(subject: str, key: str, is_reply: bool) -> None:
    assert normalise_subject(subject) == (key, is_reply)


# ----------------------------------------------------------------------- what is unparseable


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \n\n  ",
        b"This is just prose, no headers at all.\nSecond line.\n",
        b"\x00\x01\x02\xff binary junk",
        b"  continued: without a first field\n\nbody",
        b"X-Custom: only fields no mail message has\n\nbody",
        b"From ann@example.org Mon Apr 29 11:00:05 2019\n",
    ],
)
def test_input_that_is_not_a_message_is_unparseable(raw: bytes) -> None:
    with pytest.raises(Unparseable) as caught:
        parse_message(raw)
    assert caught.value.reason


# ----------------------------------------------------------------------- truncation, headers


def test_truncated_inside_the_header_block(make_message: Make) -> None:
    raw = make_message()
    cut = raw[: raw.index(b"Message-ID") + 17]  # "Message-ID: <m1@e"

    message = parse_message(cut)

    assert message.subject == "A subject"
    assert message.message_id == "m1@e"  # what was there
    assert message.body_text == ""
    assert any("truncated" in w for w in message.warnings)


def test_truncated_multipart_keeps_what_arrived(make_message: Make) -> None:
    body = multipart(
        ("Content-Type: text/plain", b"first part"), ("Content-Type: text/plain", b"x")
    )
    raw = make_message(headers=mime_headers(), body=body[: body.index(b"--XyZ--")])

    message = parse_message(raw)

    assert "first part" in message.body_text
    assert any("multipart not closed" in w for w in message.warnings)


def test_malformed_header_lines_are_survived(make_message: Make) -> None:
    raw = (
        b"From: ann@example.org\n"
        b"Subject: =?bogus-charset?Q?caf=E9?= =?utf-8?B?!!!notbase64?=\n"
        b"Date: yesterday around noon\n"
        b"Message-ID: no angle brackets@example.org\n"
        b"References: junk <a@x> more junk <b@x> <>\n"
        b"Content-Type: text/plain; charset=\n"
        b"this line is not a header\n"
        b"\nbody\n"
    )

    message = parse_message(raw)

    assert message.from_email == "ann@example.org"
    assert message.subject.startswith("caf")
    assert message.references == ("a@x", "b@x")
    assert message.date is None and message.date_source == "none"
    assert "this line is not a header" in message.body_text
    assert any("malformed header" in w for w in message.warnings)


def test_raw_8bit_headers(make_message: Make) -> None:
    raw = make_message(subject="placeholder", sender="placeholder")
    raw = raw.replace(b"Subject: placeholder", "Subject: Grüße".encode("latin-1"))
    raw = raw.replace(b"From: placeholder", "From: Jörg <j@x.de>".encode())

    message = parse_message(raw)

    assert message.subject == "Grüße"
    assert message.from_name == "Jörg"


def test_nul_bytes_never_reach_the_text(make_message: Make) -> None:
    message = parse_message(make_message(subject="a\x00b", body=b"x\x00y\n"))
    assert "\x00" not in message.subject + message.body_text


# ----------------------------------------------------------------------- charsets


@pytest.mark.parametrize(
    ("charset", "payload", "expected"),
    [
        ("iso-8859-1", "Grüße €".encode("cp1252"), "Grüße €"),  # latin-1 label, cp1252 bytes
        ("us-ascii", "naïve".encode(), "naïve"),  # wrong label, UTF-8 bytes
        ("iso-8859-1", "naïve".encode(), "naïve"),  # wrong label, UTF-8 bytes
        ("x-made-up", "naïve".encode(), "naïve"),  # unknown charset, UTF-8 bytes
        ("x-made-up", "naïve".encode("latin-1"), "naïve"),  # unknown charset, latin-1 bytes
        ("utf-8", b"caf\xe9 ok", "caf\ufffd ok"),  # invalid UTF-8: replaced
        ("gb2312", "中文".encode("gb18030"), "中文"),
        ("big5", "中文".encode("big5"), "中文"),
        ("iso-2022-jp", "日本語".encode("iso-2022-jp"), "日本語"),
        ("windows-1251", "Привет".encode("cp1251"), "Привет"),
        ('"UTF-8"', "ok ✓".encode(), "ok ✓"),
        # Python codecs that are not charsets must not be used as ones.
        ("rot13", b"uryyb", "uryyb"),
        ("zlib", "naïve".encode(), "naïve"),
        ("undefined", b"caf\xe9", "café"),
        ("idna", b"xn--caf-dma", "xn--caf-dma"),
        ("utf-8\x00junk", "naïve".encode(), "naïve"),
    ],
)
def test_body_charsets_best_effort(
    make_message: Make, charset: str, payload: bytes, expected: str
) -> None:
    raw = make_message(
        headers={"Content-Type": f"text/plain; charset={charset}"}, body=payload + b"\n"
    )
    assert parse_message(raw).body_text == expected + "\n"


def test_utf16_body(make_message: Make) -> None:
    raw = make_message(
        headers={"Content-Type": "text/plain; charset=utf-16"},
        body="ok ✓\nbye".encode("utf-16"),
    )
    assert parse_message(raw).body_text == "ok ✓\nbye"


def test_quoted_printable_and_base64_bodies(make_message: Make) -> None:
    qp = make_message(
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Transfer-Encoding": "quoted-printable",
        },
        body=b"Gr=C3=BC=C3=9Fe, a long line=\n continued\n",
    )
    b64 = make_message(
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Transfer-Encoding": "base64",
        },
        body=base64.encodebytes("Grüße\n".encode())[:-2] + b"\n",  # padding damaged
    )

    assert parse_message(qp).body_text == "Grüße, a long line continued\n"
    assert parse_message(b64).body_text.startswith("Grüß")


# ----------------------------------------------------------------------- MIME and attachments


def test_multipart_alternative_prefers_plain_text_and_sanitises_html(make_message: Make) -> None:
    html = (
        b'<p onclick="steal()">Hello <a href="javascript:alert(1)">click</a>'
        b'<a href="https://example.org/ok">fine</a></p><script>alert("x")</script>'
        b'<img src="https://tracker.example/p.gif"><iframe src="https://evil"></iframe>'
        b'<a href="JaVaScRiPt:alert(2)">x</a><svg onload="alert(3)"></svg>'
    )
    body = multipart(
        ("Content-Type: text/plain; charset=utf-8", b"Hello in plain text"),
        ("Content-Type: text/html; charset=utf-8", html),
        kind="alternative",
    )
    message = parse_message(make_message(headers=mime_headers("alternative"), body=body))

    assert message.body_text.strip() == "Hello in plain text"
    cleaned = message.body_html_sanitised or ""
    lowered = cleaned.lower()
    assert "<script" not in lowered and "alert" not in lowered
    assert "javascript:" not in lowered
    assert "onclick" not in lowered and "onload" not in lowered
    assert "<img" not in lowered and "<iframe" not in lowered
    assert 'href="https://example.org/ok"' in cleaned


def test_html_only_message_gets_text_for_search(make_message: Make) -> None:
    raw = make_message(
        headers={"Content-Type": "text/html; charset=utf-8"},
        body=b"<html><body><p>First&nbsp;para</p><p>Second</p><script>evil()</script>",
    )
    message = parse_message(raw)
    assert message.body_text == "First para\nSecond"
    assert "<script" not in (message.body_html_sanitised or "")


def test_attachments_are_decoded_named_safely_and_hashed(make_message: Make) -> None:
    payload = bytes(range(256)) * 10
    body = multipart(
        ("Content-Type: text/plain", b"see attached"),
        (
            "Content-Type: application/octet-stream; name=fallback.bin\n"
            'Content-Disposition: attachment; filename="../../etc/pass\x01wd"\n'
            "Content-Transfer-Encoding: base64",
            base64.encodebytes(payload),
        ),
        (
            "Content-Type: image/png\nContent-Disposition: attachment; "
            "filename*=utf-8''gr%C3%BC%C3%9Fe.png\nContent-Transfer-Encoding: base64",
            base64.encodebytes(b"\x89PNG"),
        ),
        ("Content-Type: application/pdf\nContent-Transfer-Encoding: base64", b"JVBERi0="),
        ("Content-Type: message/rfc822", b"From: x@y\nSubject: inner\n\ninner body"),
    )
    message = parse_message(make_message(headers=mime_headers(), body=body))

    names = [a.filename for a in message.attachments]
    assert names == ["pass_wd", "grüße.png", "attachment-3.pdf", "attachment-4.eml"]
    first = message.attachments[0]
    assert first.payload == payload
    assert first.sha256 == hashlib.sha256(payload).hexdigest()
    assert first.content_type == "application/octet-stream"
    assert message.attachments[3].payload.startswith(b"From: x@y")
    assert message.body_text.strip() == "see attached"


def test_multipart_without_boundary_reads_as_text(make_message: Make) -> None:
    raw = make_message(headers={"Content-Type": "multipart/mixed"}, body="just text\n")
    message = parse_message(raw)
    assert message.body_text == "just text\n"
    assert any("boundary" in w for w in message.warnings)


def test_deeply_nested_multipart_is_cut_off(make_message: Make) -> None:
    body = b"innermost"
    head = "Content-Type: text/plain"
    for depth in range(60):
        body = multipart((head, body), boundary=f"b{depth}")
        head = f'Content-Type: multipart/mixed; boundary="b{depth}"'
    raw = make_message(headers={"Content-Type": head.split(": ", 1)[1]}, body=body)

    message = parse_message(raw)

    assert any("nested too deeply" in w for w in message.warnings)


def test_20_mb_attachment(make_message: Make) -> None:
    payload = os.urandom(20 * 1024 * 1024)
    body = multipart(
        ("Content-Type: text/plain", b"the firmware"),
        (
            "Content-Type: application/octet-stream\n"
            'Content-Disposition: attachment; filename="firmware.bin"\n'
            "Content-Transfer-Encoding: base64",
            base64.encodebytes(payload),
        ),
    )
    raw = make_message(headers=mime_headers(), body=body)

    message = parse_message(raw)

    (attachment,) = message.attachments
    assert attachment.filename == "firmware.bin"
    assert attachment.size == len(payload)
    assert attachment.sha256 == hashlib.sha256(payload).hexdigest()
    assert message.body_text.strip() == "the firmware"


# ----------------------------------------------------------------------- ids and dates


def test_thousand_references_are_capped_keeping_root_and_latest(make_message: Make) -> None:
    refs = " ".join(f"<r{i}@x>" for i in range(1000))
    message = parse_message(make_message(headers={"References": refs}))

    assert len(message.references) == MAX_REFERENCES
    assert message.references[0] == "r0@x"
    assert message.references[-1] == "r999@x"
    assert message.references[1] == f"r{1000 - MAX_REFERENCES + 1}@x"


def test_missing_message_id_gets_a_stable_content_hash_id(make_message: Make) -> None:
    raw = make_message(message_id=None, body="no id here\n")

    message = parse_message(raw)

    assert message.message_id_synthetic
    assert message.message_id == f"sha256.{message.content_hash}@infrawg.invalid"
    # Pinned: a change of the hash would make re-imports duplicate old messages.
    assert message.content_hash == (
        "cf4c1a4279ed8179a176b46ccca34156bbcb1f13f3d7f7c71c5db0524b4bdbe0"
    )
    assert any("no Message-ID" in w for w in message.warnings)


def test_content_hash_ignores_transport_headers_and_line_ends(make_message: Make) -> None:
    raw = make_message(message_id=None)
    relayed = b"Received: from a by b; Mon, 29 Apr 2019 11:00:06 +0200\n" + raw
    dos = raw.replace(b"\n", b"\r\n")

    hashes = {parse_message(r).content_hash for r in (raw, relayed, dos)}

    assert len(hashes) == 1
    assert parse_message(make_message(message_id=None, body="other\n")).content_hash not in hashes


def test_empty_message_id_is_replaced_too(make_message: Make) -> None:
    message = parse_message(make_message(message_id="<>"))
    assert message.message_id_synthetic
    assert any("unusable Message-ID" in w for w in message.warnings)


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Tue, 23 Apr 2019 13:06:48 +0530", datetime(2019, 4, 23, 7, 36, 48, tzinfo=UTC)),
        ("23 Apr 2019 13:06:48 -0000", datetime(2019, 4, 23, 13, 6, 48, tzinfo=UTC)),
        ("Tue, 23 Apr 19 13:06:48 GMT", datetime(2019, 4, 23, 13, 6, 48, tzinfo=UTC)),
    ],
)
def test_dates_are_normalised_to_utc(make_message: Make, date: str, expected: datetime) -> None:
    message = parse_message(make_message(date=date))
    assert message.date == expected
    assert message.date.tzinfo is UTC


@pytest.mark.parametrize(
    "date", [None, "garbage", "Mon, 99 Foo 2019 99:99:99 +9999", "Thu, 1 Jan 1970 00:00:00"]
)
def test_missing_or_garbage_date_falls_back_to_received(
    make_message: Make, date: str | None
) -> None:
    raw = b"Received: by mx; Wed, 1 May 2019 10:00:00 +0000\n" + make_message(date=date)

    message = parse_message(raw)

    assert message.date == datetime(2019, 5, 1, 10, 0, tzinfo=UTC)
    assert message.date_source == "received"


def test_garbage_date_without_received_uses_the_callers_fallback(make_message: Make) -> None:
    raw = make_message(date="not a date")
    fallback = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)

    assert parse_message(raw).date is None
    message = parse_message(raw, fallback_date=fallback)
    assert (message.date, message.date_source) == (fallback, "fallback")


# ----------------------------------------------------------------------- quotes


def test_split_body_folds_quoted_blocks_and_round_trips() -> None:
    text = "On Monday Ann wrote:\n> first\n>\n\n> second\nMy answer.\n >indented is code\n"

    segments = split_body(text)

    assert [(s.kind, s.text) for s in segments] == [
        (SegmentKind.TEXT, "On Monday Ann wrote:"),
        (SegmentKind.QUOTE, "> first\n>\n\n> second"),
        (SegmentKind.TEXT, "My answer.\n >indented is code\n"),
    ]
    assert "\n".join(s.text for s in segments) == text
    assert segments[1].line_count == 4
    assert segments[1].folded and not segments[0].folded


PATCH = """diff --git a/zone.py b/zone.py
index 3b18e51..a9c4f2d 100644
--- a/zone.py
+++ b/zone.py
@@ -1,6 +1,7 @@
 import dns.zone

-def load(path):
+def load(path, origin):
+    # the origin is no longer guessed
     return dns.zone.from_file(path)

diff --git a/README b/README
--- a/README
+++ b/README
@@ -1 +1 @@
-Old words.
+New words."""


def test_split_body_finds_a_patch_up_to_the_signature() -> None:
    text = f"Here is the fix:\n\n{PATCH}\n-- \n2.39.5\n"

    segments = split_body(text)

    assert [s.kind for s in segments] == [SegmentKind.TEXT, SegmentKind.PATCH, SegmentKind.TEXT]
    patch = segments[1]
    assert patch.text == PATCH
    assert patch.folded  # 18 lines: long enough to fold
    assert patch.patch_summary == "2 files, 3 added, 2 removed"
    assert segments[2].text == "-- \n2.39.5\n"
    assert "\n".join(s.text for s in segments) == text


def test_split_body_leaves_short_patches_open_and_ignores_lone_dashes() -> None:
    short = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b"
    segments = split_body(f"Tiny:\n{short}\nThanks")
    assert [s.kind for s in segments] == [SegmentKind.TEXT, SegmentKind.PATCH, SegmentKind.TEXT]
    assert not segments[1].folded
    # A "--- " line with no hunk after it is prose (a separator), not a patch.
    prose = "Notes\n--- cut here ---\nmore notes"
    assert [s.kind for s in split_body(prose)] == [SegmentKind.TEXT]


# ----------------------------------------------------------------------- hostile sizes

_N = 200_000
HOSTILE = {
    "long junk From": b"From: " + b"a" * _N + b" x\n\nbody",
    "From of angle brackets": b"From: " + b"<" * _N + b"a@b\n\nbody",
    "unterminated parameters": b"From: a@b\nContent-Type: text/plain" + b'; a="' * _N + b"\n\n.",
    "tag soup subject": b"From: a@b\nSubject: " + b"[[" * _N + b"\n\nbody",
    "endless Re:": b"From: a@b\nSubject: " + b"Re: " * _N + b"x\n\nbody",
    "broken encoded words": b"From: a@b\nSubject: " + b"=?" * _N + b"\n\nbody",
    "many header fields": b"From: a@b\n" + b"X-A: b\n" * _N + b"\nbody",
    "many folds": b"From: a@b\nSubject: x" + b"\n y" * _N + b"\n\nbody",
    "empty parts": b"From: a@b\nContent-Type: multipart/mixed; boundary=x\n\n" + b"--x\n" * _N,
    "unclosed tags": b"From: a@b\nContent-Type: text/html\n\n" + b"<p>" * _N,
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_is_parsed_without_error(raw: bytes) -> None:
    # These once took minutes (a backtracking header pattern); the bench times them.
    message = parse_message(raw)
    assert message.message_id
