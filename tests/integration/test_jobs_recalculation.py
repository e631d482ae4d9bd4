"""Recalculation: counts per organization and channel, lost versus never sent, `stats`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from bounce_worker.jobs import latest_stats, recalculate
from tests.conftest import run_cli, set_env
from tests.integration.jobs_support import T0, event, feed

DAY = timedelta(days=1)
ACME = {"organization": "acme"}
GLOBEX = {"organization": "globex"}


def _scenario(engine: Engine) -> None:
    feed(
        engine,
        # acme delivered to a@, then a@ unsubscribed: lost.
        event("delivered", "a@example.org", T0, **ACME),
        event("unsubscribe", "a@example.org", T0 + DAY, **ACME),
        # b@ unsubscribed before acme ever delivered: never sent.
        event("unsubscribe", "b@example.org", T0, **ACME),
        # c@ unsubscribed, and a delivery was reported only afterwards: never sent.
        event("unsubscribe", "c@example.org", T0, **ACME),
        event("delivered", "c@example.org", T0 + DAY, **ACME),
        # globex never delivered to a@ (acme did): globex's complaint is never sent.
        event("complaint", "a@example.org", T0 + 2 * DAY, feedback_type="abuse", **GLOBEX),
        # Global: d@ had a delivery (from any organization) before its hard bounce: lost;
        # e@ bounced hard before any delivery: never sent; f@ is temporarily blocked.
        event("delivered", "d@example.org", T0, **GLOBEX),
        event("hard", "d@example.org", T0 + DAY, **ACME),
        event("hard", "e@example.org", T0, **ACME),
        event("full", "f@example.org", T0, **ACME),
        # A second hard bounce on d@ is history only; d@ stays lost.
        event("hard", "d@example.org", T0 + 3 * DAY, **ACME),
        # An SMS number blocked by acme, never delivered.
        event("complaint", "+447700900123", T0, channel="sms", **ACME),
    )


def _figures(rows: list) -> dict[tuple[str, str], tuple[int, ...]]:  # type: ignore[type-arg]
    return {
        (r.organization, r.channel): (
            r.active,
            r.temporarily_blocked,
            r.blacklisted,
            r.blocked,
            r.lost,
            r.never_sent,
        )
        for r in rows
    }


def test_counts_states_and_splits_lost_from_never_sent(any_engine: Engine) -> None:
    _scenario(any_engine)
    now = T0 + 10 * DAY
    result = recalculate(any_engine, now, batch_size=2)  # several id ranges
    assert result.rows == 4
    assert result.details["entries"] == 8
    rows = latest_stats(any_engine)
    assert {r.computed_at for r in rows} == {now}
    #                      active temp blacklisted blocked lost never
    assert _figures(rows) == {
        ("", "email"): (0, 1, 0, 2, 1, 1),
        ("acme", "email"): (0, 0, 3, 0, 1, 2),
        ("acme", "sms"): (0, 0, 0, 1, 0, 1),
        ("globex", "email"): (0, 0, 0, 1, 0, 1),
    }
    # One organization: its rows and the global ones (both rule its sends).
    assert set(_figures(latest_stats(any_engine, "globex"))) == {("", "email"), ("globex", "email")}


def test_each_run_is_a_snapshot_and_stats_show_the_latest(any_engine: Engine) -> None:
    _scenario(any_engine)
    recalculate(any_engine, T0 + 10 * DAY)
    feed(any_engine, event("unsubscribe", "new@example.org", T0 + 11 * DAY, **ACME))
    recalculate(any_engine, T0 + 12 * DAY)
    latest = _figures(latest_stats(any_engine))
    assert latest[("acme", "email")][2] == 4
    with any_engine.connect() as conn:
        runs = conn.execute(text("SELECT COUNT(DISTINCT computed_at) FROM recalculation_stats"))
        assert runs.scalar() == 2


@pytest.fixture
def cli_db(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, any_engine: Engine) -> Engine:
    set_env(monkeypatch, database_url=any_engine.url.render_as_string(hide_password=False))
    return any_engine


def test_stats_command(cli_db: Engine) -> None:
    empty = run_cli("stats")
    assert empty.returncode == 1
    assert empty.stderr.strip() == (
        "bounce-worker: error: no figures yet: run `bounce-worker recalculate` first"
    )
    _scenario(cli_db)
    done = run_cli("recalculate", "--now", "2026-11-20T03:30:00Z")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "counted 8 entries into 4 groups"

    shown = run_cli("stats", "--organization", "acme", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["computed_at"] == "2026-11-20T03:30:00Z"
    assert [
        (r["organization"], r["channel"], r["lost"], r["never_sent"]) for r in data["rows"]
    ] == [
        (None, "email", 1, 1),
        ("acme", "email", 1, 2),
        ("acme", "sms", 0, 1),
    ]
    table = run_cli("stats")
    assert table.returncode == 0, table.stderr
    assert "(global)" in table.stdout and "globex" in table.stdout
    assert "Suppressions as of 2026-11-20T03:30:00Z" in table.stdout
