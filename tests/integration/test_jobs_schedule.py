"""The beat schedule holds the three nightly jobs at the configured times, and the Celery
tasks it names exist."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bounce_worker.config import ConfigError, load_settings
from tests.conftest import run_cli, set_env

PROBE = """
import json, celeryconfig
from bounce_worker.celery_app import app
app.loader.import_default_modules()
print(json.dumps({
    "schedule": {
        name: [e["task"], sorted(e["schedule"].hour), sorted(e["schedule"].minute)]
        for name, e in celeryconfig.beat_schedule.items()
    },
    "timezone": celeryconfig.timezone,
    "tasks": sorted(app.tasks),
}))
"""


def test_beat_schedule_has_the_three_jobs_at_configured_times(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(
        monkeypatch,
        unlock_at="02:15",
        recalculate_at="02:45",
        housekeeping_at="05:05",
        timezone="Europe/Berlin",
    )
    # A fresh interpreter, as `celery beat` would start: no module state from other tests.
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    config = json.loads(probe.stdout)
    assert config["schedule"] == {
        "nightly-unlock": ["bounce_worker.unlock_expired", [2], [15]],
        "nightly-recalculate": ["bounce_worker.recalculate", [2], [45]],
        "nightly-housekeeping": ["bounce_worker.housekeeping", [5], [5]],
    }
    assert config["timezone"] == "Europe/Berlin"
    assert {task for task, _, _ in config["schedule"].values()} <= set(config["tasks"])


def test_defaults_and_bad_times(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert (s.unlock_hour, s.unlock_minute) == (3, 0)
    assert (s.recalculate_at, s.housekeeping_at) == ((3, 30), (4, 0))
    assert (s.job_batch_size, s.job_workers) == (10_000, 2)
    set_env(monkeypatch, housekeeping_at="25:00")
    with pytest.raises(ConfigError, match="BOUNCE_WORKER_HOUSEKEEPING_AT must be HH:MM"):
        load_settings()
    result = run_cli("housekeeping")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "bounce-worker: error: BOUNCE_WORKER_HOUSEKEEPING_AT must be HH:MM, got '25:00'"
    )
