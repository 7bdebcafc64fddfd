"""Charts drawn on the server as SVG: horizontal bars and a budget burn-down line.

This module only computes the geometry (plain numbers and texts); the templates in
``templates/reports/_charts.html`` write the SVG, with a title and a description for
screen readers, and every chart comes with a data table that says the same in words, so
nothing needs JavaScript. Colours and strokes are CSS classes (app.css), never inline
styles: the pages run under a strict Content-Security-Policy.

The drawing is 360 units wide, a phone's width: text keeps its size there and the SVG
scales up (to a cap) on larger screens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import format_date

WIDTH = 360
# Bars: a label line, then the bar with its value at its end.
BAR_LABEL = 18
BAR_HEIGHT = 16
BAR_GAP = 10
BAR_MAX = 250  # leaves room for the value after the longest bar
LABEL_MAX = 48  # characters of a label that fit the width; the data table has them all
# Line chart: the amounts are written above their grid lines, inside the plot (a phone
# has no room for a column of "€ 100.000,00" beside it); the months go below.
LINE_HEIGHT = 220
MARGIN_LEFT = 4
MARGIN_RIGHT = 8
MARGIN_TOP = 20
MARGIN_BOTTOM = 30


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None  # None: suppressed, no bar is drawn
    text: str  # the value as shown (formatted, or "fewer than 5")
    label_y: float
    y: float
    width: float
    text_x: float
    height: int = BAR_HEIGHT
    full_label: str = ""  # the label as given, for the data table


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    width: int
    height: int
    bars: list[Bar]

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


def bar_chart(
    chart_id: str,
    title: Any,
    items: Sequence[tuple[Any, int | None]],
    fmt: Callable[[int], str],
    hidden_text: Any,
) -> BarChart:
    """Horizontal bars for ``items`` (label, value), scaled to the largest value."""
    # A suppressed value (None) draws no bar and says ``hidden_text`` where the value goes.
    largest = max((v for _label, v in items if v), default=0)
    bars = []
    y = 0.0
    for label, value in items:
        width = BAR_MAX * value / largest if value and largest else 0.0
        # A tiny value still shows a sliver, so "small" does not read as "none".
        if value:
            width = max(width, 2.0)
        text = str(label)
        bars.append(
            Bar(
                label=text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…",
                full_label=text,
                value=value,
                text=fmt(value) if value is not None else str(hidden_text),
                label_y=y + BAR_LABEL - 5,
                y=y + BAR_LABEL,
                width=round(width, 1),
                text_x=round(width + 6, 1),
            )
        )
        y += BAR_LABEL + BAR_HEIGHT + BAR_GAP
    described = "; ".join(f"{b.full_label}: {b.text}" for b in bars)
    return BarChart(
        id=chart_id,
        title=str(title),
        description=described,
        width=WIDTH,
        height=max(int(y), 1),
        bars=bars,
    )


@dataclass(frozen=True)
class Tick:
    position: float
    text: str
    anchor: str = "start"  # SVG text-anchor: the first month starts, the last one ends


@dataclass(frozen=True)
class Series:
    css: str  # the CSS class of the line (its colour and dash)
    label: str
    points: str  # "x,y x,y …" for a <polyline>


@dataclass(frozen=True)
class LineChart:
    id: str
    title: str
    description: str
    width: int
    height: int
    series: list[Series]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


def line_chart(
    chart_id: str,
    title: Any,
    months: Sequence[date],
    series: Sequence[tuple[str, Any, Sequence[int]]],
    fmt: Callable[[int], str],
) -> LineChart | None:
    """Lines over months: ``series`` is (css class, label, one value per month)."""
    # None when there is nothing to draw (no month).
    if not months:
        return None
    left, right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, LINE_HEIGHT - MARGIN_BOTTOM
    highest = max((max(values, default=0) for _c, _l, values in series), default=0)
    highest = max(highest, 1)
    lowest = min(0, *(min(values, default=0) for _c, _l, values in series))
    span = highest - lowest
    steps = max(len(months) - 1, 1)

    def x_at(index: int) -> float:
        return round(left + (right - left) * index / steps, 1)

    def y_at(value: int) -> float:
        return round(bottom - (bottom - top) * (value - lowest) / span, 1)

    drawn = [
        Series(css, str(label), " ".join(f"{x_at(i)},{y_at(v)}" for i, v in enumerate(values)))
        for css, label, values in series
    ]
    # Three month labels (first, middle, last) fit on a phone.
    shown = sorted({0, (len(months) - 1) // 2, len(months) - 1})
    anchors = {0: "start", len(months) - 1: "end"}
    x_ticks = [
        Tick(x_at(i), format_date(months[i], "MMM yyyy"), anchors.get(i, "middle")) for i in shown
    ]
    y_ticks = [Tick(y_at(v), fmt(v)) for v in sorted({lowest, (lowest + highest) // 2, highest})]
    last = len(months) - 1
    description = "; ".join(
        f"{s_label}: {fmt(values[0])} ({format_date(months[0], 'MMM yyyy')}) → "
        f"{fmt(values[last])} ({format_date(months[last], 'MMM yyyy')})"
        for _css, s_label, values in series
    )
    return LineChart(
        id=chart_id,
        title=str(title),
        description=description,
        width=WIDTH,
        height=LINE_HEIGHT,
        series=drawn,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
    )
