"""Quoted lines and patches in a body, for folding them away on the page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["BodySegment", "SegmentKind", "is_quoted_line", "split_body"]

# A patch shorter than this stays open: folding three lines hides more than it saves.
LONG_PATCH = 12

# How a patch starts: git's own header, or a unified diff's two file lines.
_PATCH_START = re.compile(r"^(diff --git |Index: |--- \S)")
# Lines that go on a patch: hunks, context, git's extended headers, the diffstat's end.
_PATCH_LINE = re.compile(
    r"^([ +\-@\\]|diff |index |new file mode|deleted file mode|old mode|new mode|"
    r"similarity index|rename (from|to) |copy (from|to) |Binary files |GIT binary patch|$)"
)


class SegmentKind(StrEnum):
    TEXT = "text"  # the author's own words
    QUOTE = "quote"  # lines quoting an earlier message
    PATCH = "patch"  # a diff


@dataclass(frozen=True, slots=True)
class BodySegment:
    """A run of body lines of one kind."""

    kind: SegmentKind
    text: str

    @property
    def line_count(self) -> int:
        """Number of lines in the segment (for "show 42 quoted lines")."""
        return self.text.count("\n") + 1

    @property
    def folded(self) -> bool:
        """Shown closed on the page: every quote, and a patch long enough to be in the way."""
        return self.kind == SegmentKind.QUOTE or (
            self.kind == SegmentKind.PATCH and self.line_count >= LONG_PATCH
        )

    @property
    def patch_summary(self) -> str:
        """The patch in words: "2 files, 40 added, 3 removed" (lines)."""
        lines = self.text.split("\n")
        files = sum(1 for line in lines if line.startswith("+++ "))
        added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++ "))
        removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("--- "))
        named = f"{files} file{'s' if files != 1 else ''}, " if files else ""
        return f"{named}{added} added, {removed} removed"


def is_quoted_line(line: str) -> bool:
    """True for a line quoting an earlier message (starts with ``>``).

    Only a ``>`` in the first column counts: an indented ``>`` is more often a diff
    context line or code than a quote.
    """
    return line.startswith(">")


def _quote_kinds(lines: list[str]) -> list[SegmentKind]:
    kinds = [SegmentKind.QUOTE if is_quoted_line(line) else SegmentKind.TEXT for line in lines]
    # A blank run sandwiched between quoted lines is part of the quote.
    i = 0
    while i < len(lines):
        if (
            kinds[i] == SegmentKind.TEXT
            and not lines[i].strip()
            and i > 0
            and kinds[i - 1] == SegmentKind.QUOTE
        ):
            j = i
            while j < len(lines) and kinds[j] == SegmentKind.TEXT and not lines[j].strip():
                j += 1
            if j < len(lines) and kinds[j] == SegmentKind.QUOTE:
                for k in range(i, j):
                    kinds[k] = SegmentKind.QUOTE
            i = j
        else:
            i += 1
    return kinds


def _mark_patches(lines: list[str], kinds: list[SegmentKind]) -> None:
    """Mark the author's lines that are a patch: from a diff header to the last diff line
    (a signature ``-- `` or any other line ends it; blank lines inside it are kept)."""
    i = 0
    while i < len(lines):
        if kinds[i] != SegmentKind.TEXT or not _PATCH_START.match(lines[i]):
            i += 1
            continue
        end = i + 1
        j = i + 1
        while j < len(lines) and kinds[j] == SegmentKind.TEXT and lines[j] != "-- ":
            if not _PATCH_LINE.match(lines[j]):
                break
            if lines[j]:
                end = j + 1  # the patch ends at its last line that is not blank
            j += 1
        if any(line.startswith("@@") or line.startswith("+++ ") for line in lines[i:end]):
            for k in range(i, end):
                kinds[k] = SegmentKind.PATCH
        i = end


def split_body(text: str) -> list[BodySegment]:
    """Split a body into runs of own text, quoted text and patches, for folding.

    Blank lines between two quoted lines belong to the quote. Joining the segments'
    texts with ``"\\n"`` gives back ``text`` exactly.
    """
    lines = text.split("\n")
    kinds = _quote_kinds(lines)
    _mark_patches(lines, kinds)
    segments: list[BodySegment] = []
    start = 0
    for i in range(1, len(lines) + 1):
        if i == len(lines) or kinds[i] != kinds[start]:
            segments.append(BodySegment(kinds[start], "\n".join(lines[start:i])))
            start = i
    return segments
