"""The archive's files: attachments stored by content (SHA-256), and the worker thread the
store function hands its byte work to (compression, file writes release the GIL)."""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from infrawg.archives.parse import Attachment as ParsedAttachment


def attachment_path(archive_dir: Path, sha256: str) -> Path:
    """Where the bytes with this SHA-256 live (two levels of fan-out)."""
    return archive_dir / sha256[:2] / sha256[2:4] / sha256


def private_dirs(directory: Path) -> None:
    """mkdir -p with every directory it creates 0700 (Path.mkdir's ``mode`` is applied
    to the last one only, and then through the umask)."""
    missing = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for each in reversed(missing):
        each.mkdir(mode=0o700, exist_ok=True)
        each.chmod(0o700)


def write_attachment(archive_dir: Path, sha256: str, payload: bytes) -> None:
    path = attachment_path(archive_dir, sha256)
    if path.exists():
        return  # content-addressed: the same bytes are already there
    if not path.parent.is_dir():
        private_dirs(path.parent)
    # Written to a temporary name and renamed, so a reader never sees half a file;
    # mkstemp makes it 0600 (R16: the archive is nobody else's on the host either).
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def compress_all(raws: list[bytes]) -> list[bytes]:
    return [zlib.compress(raw, 1) for raw in raws]


def write_attachments(archive_dir: Path, parts: list[ParsedAttachment]) -> None:
    for part in parts:
        write_attachment(archive_dir, part.sha256, part.payload)


class Background:
    """Runs functions on one worker thread, or at once when not worth a thread. Leaving
    the block waits for the work handed over, so nothing outlives the store call."""

    def __init__(self, threaded: bool) -> None:
        self._pool = ThreadPoolExecutor(1, "archive-store") if threaded else None

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        if self._pool is not None:
            return self._pool.submit(function, *args)
        done: Future[Any] = Future()
        done.set_result(function(*args))
        return done
