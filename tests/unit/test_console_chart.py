"""The statistics chart is pure: figures in, SVG text out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from bounce_worker.http.console.chart import COLOURS, _nice_max, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_axis_tops_are_round_numbers_at_or_above_the_largest_figure() -> None:
    assert [_nice_max(v) for v in (0, 1, 3, 7, 10, 11, 4_999, 120_001)] == [
        1, 1, 5, 10, 10, 20, 5_000, 200_000]  # fmt: skip


def test_one_polyline_per_series_one_point_per_snapshot() -> None:
    day = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)
    points = [(day + timedelta(days=i), {"blocked": 10 * i, "blacklisted": 5, "lost": i})
              for i in range(5)]  # fmt: skip
    svg = ET.fromstring(line_chart(points, 'acme <"quoted">').replace(
        "<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))  # fmt: skip
    lines = svg.findall(f"{SVG}polyline")
    assert [ln.get("data-series") for ln in lines] == list(COLOURS)
    assert all(len(ln.get("points", "").split()) == 5 for ln in lines)
    blocked = [tuple(map(float, p.split(","))) for p in lines[0].get("points", "").split()]
    assert [y for _, y in blocked] == sorted((y for _, y in blocked), reverse=True)  # rises
    assert svg.get("aria-label") == 'acme <"quoted">'  # escaped in the text, read back whole
    assert "2026-11-01" in line_chart(points, "t") and "2026-11-05" in line_chart(points, "t")


def test_no_snapshot_yet_says_what_to_run() -> None:
    assert "bounce-worker recalculate" in line_chart([], "nothing")
    one = line_chart([(datetime(2026, 11, 1, tzinfo=UTC), {"blocked": 3})], "one")
    assert one.count("<circle") == len(COLOURS)  # a single night still shows its points
