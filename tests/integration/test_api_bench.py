"""A small run of bench/api.py (the figures themselves come from the full run)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import PG_ADMIN, REPO


def test_bench_api_smoke_run() -> None:
    done = subprocess.run(
        [sys.executable, "bench/api.py", "--entries", "2000", "--rate", "100", "--seconds",
         "1", "--batch", "500", "--batch-runs", "2", "--database-url", PG_ADMIN],
        capture_output=True, text=True, cwd=REPO, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "filled 2,100 entries" in out
    assert re.search(r"GET /healthz \(no-op\)\s+100\s+0\s+[\d.]+\s+[\d.]+", out), out
    assert re.search(r"GET /v1/check\s+100\s+0\s+[\d.]+\s+[\d.]+", out), out
    assert re.search(r"POST /v1/check, 500 addresses: median [\d.]+ ms", out), out
    assert "ratio check/no-op: p50" in out
