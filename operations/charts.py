"""Line charts rendered on the server as SVG: no JavaScript, no third-party assets, printable."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 22, 26
COLOURS = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a"]
# A chart is at most this many pixels wide: more points than that only make the SVG heavier.
MAX_POINTS = 2 * WIDTH


@dataclass
class Series:
    label: str
    points: list[tuple[datetime, float]] = field(default_factory=list)


def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) that cuts ``span`` into about ``ticks`` parts."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def thin(points: list[tuple[datetime, float]], limit: int = MAX_POINTS) -> list[tuple[datetime, float]]:
    """Keep the first and last point of each run plus its extremes, so that spikes survive."""
    if len(points) <= limit:
        return points
    size = math.ceil(len(points) / (limit / 4))
    kept: list[tuple[datetime, float]] = []
    for start in range(0, len(points), size):
        bucket = points[start : start + size]
        chosen = {0, len(bucket) - 1, min(range(len(bucket)), key=lambda i: bucket[i][1]),
                  max(range(len(bucket)), key=lambda i: bucket[i][1])}
        kept.extend(bucket[i] for i in sorted(chosen))
    return kept


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.4g}"


def line_chart(*, title: str, unit: str, series: list[Series]) -> SafeString:
    series = [s for s in series if s.points]
    head = f'<figure class="chart"><figcaption>{escape(title)} <small>({escape(unit)})</small></figcaption>'
    if not series:
        return mark_safe(f'{head}<p class="chart-empty">no values</p></figure>')
    values = [v for s in series for _, v in s.points]
    times = [t for s in series for t, _ in s.points]
    low, high = min(values), max(values)
    if 0 <= low <= high / 2:
        low = 0.0  # energy, power, SoC read best from zero; voltage is read around its level
    step = nice_step(high - low)
    low, high = math.floor(low / step) * step, max(math.ceil(high / step) * step, low + step)
    start, end = min(times), max(times)
    seconds = max((end - start).total_seconds(), 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: datetime) -> float:
        return LEFT + (t - start).total_seconds() / seconds * plot_w

    def y(v: float) -> float:
        return TOP + (1 - (v - low) / (high - low)) * plot_h

    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">']
    tick = low
    while tick <= high + step / 2:
        ty = y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
                     f'<text class="label" x="{LEFT - 4}" y="{ty + 4:.1f}" text-anchor="end">{_number(tick)}</text>')
        tick += step
    for i in range(5):
        at = start + (end - start) * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(f'<text class="label" x="{x(at):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
                     f'{timezone.localtime(at):%H:%M}</text>')
    for index, one in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in thin(one.points))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}">'
                     f'<title>{escape(one.label)}</title></polyline>')
        if len(series) > 1:
            parts.append(f'<text class="legend" x="{LEFT + 8 + index * 90}" y="{TOP - 6}" fill="{colour}">'
                         f'{escape(one.label)}</text>')
    parts.append("</svg></figure>")
    return mark_safe(head + "".join(parts))
