"""Charts drawn on the server as SVG: bars per day (or week, month), no script.

A chart is data for its template (``charts/bars.html``): the bars' geometry
in a fixed 720x200 view box that the stylesheet scales to the page's
width, a handful of axis labels, and each bar's exact value as its title
(read by screen readers and shown on hover). Heights are computed with
integers and Fractions, so a bar is exact whatever the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

WIDTH = 720
HEIGHT = 200
LEFT = 56
BOTTOM = 24
TOP = 8
MAX_LABELS = 8


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    title: str


@dataclass(frozen=True)
class Label:
    x: int
    text: str


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    labels: list[Label]
    top_label: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    base: int = HEIGHT - BOTTOM
    top: int = TOP

    @property
    def empty(self) -> bool:
        return not any(bar.height for bar in self.bars)


def bars(
    title: str,
    points: Sequence[tuple[str, int, str]],
    *,
    top_label: str,
) -> Chart:
    """One bar per ``(label, value, shown value)``; values are non-negative
    integers (counts, minor units); ``top_label`` is the largest value shown."""
    plot = WIDTH - LEFT
    span = HEIGHT - BOTTOM - TOP
    largest = max((value for _, value, _ in points), default=0)
    slot = Fraction(plot, max(len(points), 1))
    width = max(1, int(slot * Fraction(4, 5)))
    every = max(1, -(-len(points) // MAX_LABELS))
    drawn: list[Bar] = []
    labels: list[Label] = []
    for index, (label, value, shown) in enumerate(points):
        x = LEFT + int(slot * index + (slot - width) / 2)
        height = int(Fraction(max(value, 0) * span, largest)) if largest else 0
        drawn.append(Bar(x, HEIGHT - BOTTOM - height, width, height, f"{label}: {shown}"))
        if index % every == 0:
            labels.append(Label(x + width // 2, label))
    return Chart(title=title, bars=drawn, labels=labels, top_label=top_label if largest else "0")
