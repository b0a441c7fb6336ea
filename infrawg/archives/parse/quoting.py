"""Quoted lines in a body, for folding them away on the page."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BodySegment", "is_quoted_line", "split_quotes"]


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
