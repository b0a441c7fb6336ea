"""Bar charts drawn on the server as SVG geometry; the template ``surveys/_chart.html``
writes the markup (with <title>, <desc> and a data table beside it for screen readers).

No chart library and no script: the numbers become rectangles here, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 640
LABEL_WIDTH = 220
BAR_HEIGHT = 22
GAP = 8
PLOT_WIDTH = WIDTH - LABEL_WIDTH - 70


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    percent: float
    y: int
    width: int
    text_x: int

    @property
    def short_label(self) -> str:
        return self.label if len(self.label) <= 32 else self.label[:31] + "…"


@dataclass(frozen=True)
class BarChart:
    chart_id: str
    title: str
    description: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int


def bar_chart(
    chart_id: str, title: str, description: str, bars: list[tuple[str, int, float]]
) -> BarChart:
    """A horizontal bar per (label, count, percent); bar length is the percentage."""
    drawn = []
    for i, (label, count, percent) in enumerate(bars):
        width = round(PLOT_WIDTH * max(0.0, min(percent, 100.0)) / 100)
        y = GAP + i * (BAR_HEIGHT + GAP)
        drawn.append(Bar(label, count, percent, y, width, LABEL_WIDTH + width + 6))
    height = GAP + len(bars) * (BAR_HEIGHT + GAP)
    return BarChart(chart_id, title, description, tuple(drawn), WIDTH, height, LABEL_WIDTH)
