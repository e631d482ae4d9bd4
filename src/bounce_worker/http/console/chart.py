"""The statistics chart as inline SVG, drawn on the server: no script, no outside request,
a few kilobytes whatever the number of entries (one point per nightly recalculation)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
COLOURS = {  # distinguishable in grey scale too: the legend names each line as well
    "blocked": "#b3261e",
    "blacklisted": "#7a4a00",
    "temporarily_blocked": "#1f5fa8",
    "lost": "#555555",
}


def _nice_max(value: int) -> int:
    """A round top for the y axis (1, 2, 5 x 10^n) at or above `value`."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def line_chart(points: Sequence[tuple[datetime, dict[str, int]]], title: str) -> str:
    """One line per series in COLOURS over the snapshots' dates; an empty note without data."""
    label = escape(title)
    if not points:
        return (
            f'<svg role="img" aria-label="{label}" viewBox="0 0 {WIDTH} 40" class="chart">'
            '<text x="8" y="24">No recalculation yet: run `bounce-worker recalculate`.</text></svg>'
        )
    top = _nice_max(max(p[1].get(k, 0) for p in points for k in COLOURS))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(points)

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: int) -> float:
        return TOP + plot_h * (1 - v / top)

    out = [
        f'<svg role="img" aria-label="{label}" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart">',
        f"<title>{label}</title>",
    ]
    for frac in (0, 0.5, 1):
        v = int(top * frac)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,}</text>'
        )
    for i in sorted({0, n - 1}):
        out.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{points[i][0]:%Y-%m-%d}</text>"
        )
    for name, colour in COLOURS.items():
        coords = " ".join(f"{x(i):.1f},{y(p[1].get(name, 0)):.1f}" for i, p in enumerate(points))
        out.append(
            f'<polyline class="series" data-series="{name}" fill="none" stroke="{colour}" '
            f'stroke-width="2" points="{coords}"><title>{name}</title></polyline>'
        )
        if n == 1:
            cx, cy = coords.split(",")
            out.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
    out.append("</svg>")
    return "".join(out)
