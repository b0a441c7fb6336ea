"""The streaming mbox reader: splitting, escaping, compression, truncation, memory."""

from __future__ import annotations

import bz2
import gzip
import lzma
import tracemalloc
from pathlib import Path

import pytest

from infrawg.archives.mbox import iter_mbox

from .conftest import CORPUS_SIZE, build_message

ENVELOPE = b"From ann@example.org Mon Apr 29 11:00:05 2019\n"


def mbox_of(*messages: bytes) -> bytes:
    """An mbox as a writer produces it: envelope, message, blank separator line."""
    return b"".join(ENVELOPE + m + (b"" if m.endswith(b"\n") else b"\n") + b"\n" for m in messages)


def test_splits_on_envelope_lines_and_keeps_message_bytes(tmp_path: Path) -> None:
    first = build_message(message_id="<a@x>", body="one\n")
    second = build_message(message_id="<b@x>", body="two\n\nthree\n")
    path = tmp_path / "list.mbox"
    path.write_bytes(mbox_of(first, second))

    messages = list(iter_mbox(path))

    assert [m.raw for m in messages] == [first, second]
    assert [m.index for m in messages] == [0, 1]
    assert messages[0].offset == 0
    assert messages[1].offset == len(ENVELOPE) + len(first) + 1
    assert messages[0].envelope == ENVELOPE[5:-1]
    assert messages[-1].position == path.stat().st_size
    assert not any(m.truncated for m in messages)


def test_unescapes_from_lines_and_ignores_from_prose_without_envelope_shape(
    tmp_path: Path,
) -> None:
    body = "quoted:\n>From the list\n>>From deeper\n\nFrom the docs, not an envelope\n"
    path = tmp_path / "list.mbox"
    path.write_bytes(mbox_of(build_message(body=body), build_message(message_id="<2@x>")))

    messages = list(iter_mbox(path))

    assert len(messages) == 2
    assert messages[0].raw.endswith(
        b"quoted:\nFrom the list\n>From deeper\n\nFrom the docs, not an envelope\n"
    )


def test_from_line_not_after_blank_line_does_not_split(tmp_path: Path) -> None:
    body = "line\nFrom ann@example.org Mon Apr 29 11:00:05 2019\n"
    path = tmp_path / "list.mbox"
    path.write_bytes(mbox_of(build_message(body=body)))

    assert len(list(iter_mbox(path))) == 1


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".mbox.gz", gzip.compress), (".mbox.xz", lzma.compress), (".mbox.bz2", bz2.compress)],
)
def test_compressed_files_read_like_plain_ones(tmp_path: Path, suffix: str, compress) -> None:
    data = mbox_of(*(build_message(message_id=f"<{i}@x>") for i in range(50)))
    plain = tmp_path / "list.mbox"
    plain.write_bytes(data)
    packed = tmp_path / f"list{suffix}"
    packed.write_bytes(compress(data))

    assert [m.raw for m in iter_mbox(packed)] == [m.raw for m in iter_mbox(plain)]
    assert list(iter_mbox(packed))[-1].position == packed.stat().st_size


def test_compression_is_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "mislabelled.mbox"
    path.write_bytes(gzip.compress(mbox_of(build_message())))

    assert len(list(iter_mbox(path))) == 1


def test_truncated_last_message_is_yielded_and_flagged(tmp_path: Path) -> None:
    data = mbox_of(build_message(message_id="<a@x>"), build_message(message_id="<b@x>"))
    path = tmp_path / "cut.mbox"
    path.write_bytes(data[: len(data) - 5])  # cut inside the last body line

    messages = list(iter_mbox(path))

    assert len(messages) == 2
    assert not messages[0].truncated
    assert messages[1].truncated and messages[1].error is None
    assert messages[1].raw.startswith(b"From: Ann")


def test_cut_compressed_stream_yields_what_was_read_then_stops(tmp_path: Path) -> None:
    data = mbox_of(*(build_message(message_id=f"<{i}@x>", body=f"{i}\n" * 500) for i in range(40)))
    packed = lzma.compress(data)
    path = tmp_path / "cut.mbox.xz"
    path.write_bytes(packed[: len(packed) // 2])

    messages = list(iter_mbox(path))

    assert 0 < len(messages) < 40
    assert messages[-1].truncated
    assert "compressed stream" in (messages[-1].error or "")
    assert not any(m.truncated for m in messages[:-1])


def test_leading_text_without_envelope_is_a_message(tmp_path: Path) -> None:
    path = tmp_path / "bare.eml"
    path.write_bytes(build_message() + b"\n" + mbox_of(build_message(message_id="<2@x>")))

    messages = list(iter_mbox(path))

    assert len(messages) == 2
    assert messages[0].envelope is None


def test_blank_file_and_blank_preamble_yield_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.mbox"
    path.write_bytes(b"\n\n")
    assert list(iter_mbox(path)) == []


def test_crlf_mbox(tmp_path: Path) -> None:
    message = build_message().replace(b"\n", b"\r\n")
    path = tmp_path / "dos.mbox"
    path.write_bytes(
        ENVELOPE.replace(b"\n", b"\r\n") + message + b"\r\n" + ENVELOPE + message + b"\r\n"
    )

    assert [m.raw for m in iter_mbox(path)] == [message, message]


def test_line_without_newline_longer_than_the_read_chunk(tmp_path: Path) -> None:
    junk = b"x" * (3 << 20)  # 3 MiB on one line
    path = tmp_path / "junk.mbox"
    path.write_bytes(mbox_of(build_message(body=junk + b"\nFrom a b 10:00 2019\n")))

    messages = list(iter_mbox(path))

    assert len(messages) == 1
    assert junk in messages[0].raw


def _growth_while_streaming(path: Path) -> tuple[int, int, int]:
    """(messages, memory held once the first message is out, peak over the whole stream).

    The baseline includes the decompressor's fixed state: an xz file made with ``-9``
    needs its 64 MiB dictionary whatever the file's length, so growth is what counts.
    """
    tracemalloc.start()
    try:
        count, baseline = 0, 0
        for count, _ in enumerate(iter_mbox(path), start=1):
            if count == 1:
                baseline = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
        return count, baseline, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    body = "some text of a list message\n" * 40
    small = tmp_path / "small.mbox.gz"
    large = tmp_path / "large.mbox.gz"
    small.write_bytes(gzip.compress(mbox_of(*(build_message(body=body) for _ in range(1_000)))))
    large.write_bytes(gzip.compress(mbox_of(*(build_message(body=body) for _ in range(10_000)))))

    small_count, _, small_peak = _growth_while_streaming(small)
    large_count, large_base, large_peak = _growth_while_streaming(large)

    assert (small_count, large_count) == (1_000, 10_000)
    # Ten times the file (13 MB decompressed), the same working set.
    assert large_peak - large_base < 256 * 1024
    assert large_peak < small_peak * 1.5 + 64 * 1024


@pytest.mark.slow
def test_corpus_streams_from_xz_in_bounded_memory(corpus_xz: Path) -> None:
    count, baseline, peak = _growth_while_streaming(corpus_xz)

    assert count == CORPUS_SIZE
    # 70 MB decompressed; beyond the decoder's fixed state the reader holds one message
    # (the largest in the corpus is 266 kB) and its line list.
    assert peak - baseline < 2 << 20
