"""Fixtures for the archive parsing tests: the shared corpus and a raw-message builder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infrawg.archives.mbox import iter_mbox
from infrawg.archives.parse import ParsedMessage, Unparseable, parse_message

# ../shared beside the project root; read only, never written.
CORPUS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
CORPUS_XZ = CORPUS_DIR / "linux-i2c-10k.mbox.xz"
CORPUS_SIZE = 10_000


def build_message(
    *,
    headers: dict[str, str] | None = None,
    body: str | bytes = "Hello.\n",
    message_id: str | None = "<m1@example.org>",
    subject: str | None = "A subject",
    date: str | None = "Mon, 29 Apr 2019 11:00:05 +0200",
    sender: str | None = "Ann Example <ann@example.org>",
) -> bytes:
    """Raw bytes of a small message; pass None to leave a standard header out."""
    lines: list[str] = []
    if sender is not None:
        lines.append(f"From: {sender}")
    lines.append("To: list@example.org")
    if subject is not None:
        lines.append(f"Subject: {subject}")
    if date is not None:
        lines.append(f"Date: {date}")
    if message_id is not None:
        lines.append(f"Message-ID: {message_id}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    head = ("\n".join(lines) + "\n\n").encode("utf-8")
    return head + (body.encode("utf-8") if isinstance(body, str) else body)


@pytest.fixture
def make_message() -> Callable[..., bytes]:
    """The raw-message builder (see :func:`build_message`)."""
    return build_message


@pytest.fixture(scope="session")
def corpus_xz() -> Path:
    """The 10,000-message linux-i2c corpus, compressed."""
    if not CORPUS_XZ.is_file():
        pytest.fail(f"corpus missing: {CORPUS_XZ}")
    return CORPUS_XZ


@pytest.fixture(scope="session")
def corpus_parsed(corpus_xz: Path) -> tuple[list[ParsedMessage], list[str]]:
    """Every corpus message parsed: (parsed messages, reasons of the unparseable ones)."""
    parsed: list[ParsedMessage] = []
    unparseable: list[str] = []
    for message in iter_mbox(corpus_xz):
        try:
            parsed.append(parse_message(message.raw))
        except Unparseable as exc:
            unparseable.append(exc.reason)
    return parsed, unparseable


# Thread roots verified against the mbox: every message linked to the root through
# References/In-Reply-To (a union of all referenced ids, computed from the raw headers
# independently of the parser) and nothing else.
KNOWN_THREADS = {
    "20200908224006.25636-1-digetx@gmail.com": (
        146,
        "[PATCH v7 00/34] Improvements for Tegra I2C driver",
    ),
    "20210118003428.568892-1-djrscally@gmail.com": (
        83,
        "[PATCH v2 0/7] Introduce intel_skl_int3472 driver",
    ),
    "20190608105619.593-1-wsa+renesas@sang-engineering.com": (
        77,
        "[PATCH 00/34] treewide: simplify getting the adapter of an I2C client",
    ),
}
