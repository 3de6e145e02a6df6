"""The overview's bar chart, laid out on the server: geometry in SVG user units, which the
template draws as an inline <svg>. The viewBox scales it to any width; labels and figures
come formatted from the caller (localized dates, intcomma numbers)."""

import math
from collections.abc import Callable
from dataclasses import dataclass

WIDTH = 720
HEIGHT = 240
PLOT_TOP = 26  # room for the top gridline's label (large on a phone)
PLOT_BOTTOM = 206  # the baseline; tick labels go below it
TICK_Y = 228
GAP = 0.2  # the share of each column left empty between bars
EDGE_COLUMNS = 3  # ticks of the first and last columns align with the chart's edges


@dataclass(frozen=True)
class Segment:
    series: str  # a CSS class: which part of the stack
    y: float
    height: float


@dataclass(frozen=True)
class Column:
    x: float
    width: float
    segments: list[Segment]
    title: str  # what a pointer over the column shows
    tick: str  # the axis label under it, "" for none
    minor: bool  # a tick that narrow screens leave out
    tick_x: float
    anchor: str  # text-anchor of the tick: those at the ends stay inside the chart


@dataclass(frozen=True)
class Gridline:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    tick_y: float
    columns: list[Column]
    gridlines: list[Gridline]


@dataclass(frozen=True)
class Bucket:
    values: dict[str, int]  # series -> count
    title: str
    tick: str = ""
    minor: bool = False


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 3, 4, 5, 6, 8 x 10^n (n >= 0) that is >= value: the top of
    the y axis, so the tallest bar fills at least 3/4 of the height (5/8 from 5 to 8)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 3, 4, 5, 6, 8):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def stacked_bars(
    buckets: list[Bucket], *, series: list[str], number: Callable[[int], str] = str
) -> Chart:
    """One stacked bar per bucket, `series` from the bottom up, on a y axis from 0 to a
    round number, with gridlines at half and at the top labelled by `number`."""
    top = nice_ceiling(max((sum(b.values.values()) for b in buckets), default=0))
    scale = (PLOT_BOTTOM - PLOT_TOP) / top
    slot = WIDTH / max(1, len(buckets))
    columns = []
    for i, bucket in enumerate(buckets):
        x = i * slot + slot * GAP / 2
        y = float(PLOT_BOTTOM)
        segments = []
        for name in series:
            height = bucket.values.get(name, 0) * scale
            if height > 0:
                y -= height
                segments.append(Segment(name, round(y, 2), round(height, 2)))
        width = slot * (1 - GAP)
        if i < EDGE_COLUMNS:
            anchor, tick_x = "start", x
        elif i >= len(buckets) - EDGE_COLUMNS:
            anchor, tick_x = "end", x + width
        else:
            anchor, tick_x = "middle", i * slot + slot / 2
        columns.append(
            Column(
                x=round(x, 2),
                width=round(width, 2),
                segments=segments,
                title=bucket.title,
                tick=bucket.tick,
                minor=bucket.minor,
                tick_x=round(tick_x, 2),
                anchor=anchor,
            )
        )
    gridlines = [
        Gridline(round(PLOT_BOTTOM - value * scale, 2), number(value))
        for value in ([top // 2, top] if top >= 2 else [top])
    ]
    return Chart(WIDTH, HEIGHT, PLOT_BOTTOM, TICK_Y, columns, gridlines)
