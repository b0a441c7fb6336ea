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
