"""A smoke run of bench/intake.py (small numbers, on the real server and Redis): it runs,
prints every figure, and --check turns a missed goal into exit status 1. The figures
themselves are not asserted (the machine is shared); the goals are the bench's to print."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO

SMALL = ["--seconds", "0.5", "--rate", "20", "--batch", "5", "--connections", "2"]


def bench(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "bench/intake.py", *SMALL, "--redis-url", redis_url, *args],
        capture_output=True, text=True, timeout=240, cwd=REPO,
    )  # fmt: skip


def test_the_bench_prints_its_figures_and_check_fails_a_missed_goal(redis_url: str) -> None:
    lax = bench(redis_url, "--check", "--min-ratio", "0", "--min-events", "0", "--max-p99", "1e9")
    assert lax.returncode == 0, lax.stdout + lax.stderr
    out = lax.stdout
    number = r"\s+(\d+)\s+0\s+(\d+)\s+(\d+)$"  # answered, errors (none), per s, CPU us/req
    for label in (
        r"GET /healthz \(no-op\)",
        r"POST /webhooks/mailgun \(signed, 1 event\)",
        r"POST /webhooks/sendgrid \(5 events\): events",
    ):
        row = re.search(label + number, out, re.MULTILINE)
        assert row and int(row.group(1)) > 0, (label, out)
    assert re.search(r"signed posts / no-op: \d+\.\d\d \(server CPU per request: \d+\.\d\d", out)
    assert re.search(r"queued (\d+) Mailgun messages", out)
    assert re.search(r"p50 \d+\.\d ms, p99 \d+\.\d ms", out)
    assert re.search(r"load average [\d.]+ [\d.]+ [\d.]+ on \d+ CPUs", out)
    assert "NOT met" not in out and out.count(": met") == 3

    strict = bench(redis_url, "--check", "--max-p99", "0.0001")  # no request answers in 0.1 us
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "p99 <= 0.0001 ms at 20/s: NOT met" in strict.stdout
