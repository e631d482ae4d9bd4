"""The console script as a user runs it: process, status, unlock-expired, db upgrade, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli, set_env

# Written as a new user would: minimal fields, channel left out, mixed case, offsets.
USER_FEED = """\
{"event_id": "1", "type": "bounce", "recipient": "Jane.Doe@Example.COM", "status": "5.1.1", "diagnostic": "550 5.1.1 The email account that you tried to reach does not exist", "occurred_at": "2026-11-22T10:00:00+01:00"}
{"event_id": "2", "type": "bounce", "recipient": "box@example.com", "smtp_code": 552, "diagnostic": "552 Mailbox full", "occurred_at": "2026-11-22T10:00:00Z"}
{"event_id": "3", "type": "bounce", "recipient": "box@example.com", "diagnostic": "452 4.2.2 over quota", "occurred_at": "2026-11-24T10:00:00Z"}
{"event_id": "4", "type": "complaint", "recipient": "jane.doe@example.com", "organization": "acme", "occurred_at": "2026-11-22T11:00:00Z"}

{"event_id": "5", "type": "unsubscribe", "recipient": "sam@example.com", "organization": "acme", "list": "weekly", "occurred_at": "2026-11-22T12:00:00Z"}
{"event_id": "6", "type": "bounce", "recipient": "sam@example.com", "status": "5.1.1", "occurred_at": "not a date"}
"""


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text(USER_FEED)
    return path


def status(*args: str) -> dict[str, object]:
    result = run_cli("status", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_process_then_status_gives_the_spec_answers(
    database: str,
    feed: Path,
    env: object,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    if database == "postgresql":
        request.getfixturevalue("pg_engine")
        set_env(monkeypatch, database_url=request.getfixturevalue("pg_url"))
        assert run_cli("db", "upgrade").returncode == 0
    result = run_cli("process", str(feed))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "applied 5, duplicates 0, dead-lettered 1"
    assert "occurred_at is not ISO 8601" in result.stderr and "Traceback" not in result.stderr

    jane = status("jane.doe@EXAMPLE.com", "--organization", "acme")
    assert (jane["state"], jane["reason"], jane["blocked_until"]) == (
        "blocked",
        "hard_bounce",
        None,
    )
    assert [(t["from"], t["to"], t["reason"]) for t in jane["transitions"]] == [  # type: ignore[union-attr]
        ("active", "blocked", "hard_bounce"),
        ("active", "blocked", "complaint"),
    ]
    assert jane["transitions"][0]["occurred_at"] == "2026-11-22T09:00:00Z"  # type: ignore[index]
    assert {e["scope"] for e in jane["entries"]} == {"global", "organization"}  # type: ignore[union-attr]

    box = status("box@example.com")
    assert (box["state"], box["reason"], box["temporary_block_count"]) == (
        "temporarily_blocked",
        "mailbox_full",
        2,
    )
    assert (
        box["blocked_until"] == "2026-11-26T10:00:00Z"
    )  # second error after the first block: 2 days

    assert (
        status("sam@example.com", "--organization", "acme", "--list", "weekly")["state"]
        == "blacklisted"
    )
    assert status("sam@example.com", "--organization", "acme")["state"] == "active"

    unlocked = run_cli("unlock-expired", "--now", "2026-11-26T10:00:00Z")
    assert unlocked.returncode == 0 and unlocked.stdout.strip() == "unlocked 1 entries"
    assert status("box@example.com")["state"] == "active"

    again = run_cli("process", str(feed))
    assert again.stdout.strip() == "applied 0, duplicates 5, dead-lettered 1"


@pytest.mark.parametrize(
    "args, message",
    [
        (["process", "/nonexistent.jsonl"], "no such file: /nonexistent.jsonl"),
        (["status", "not-an-address"], "not an email address, domain or phone number"),
        (["status", "+49", "--channel", "sms"], "phone number"),
        (["unlock-expired", "--now", "tomorrow"], "not ISO 8601"),
    ],
)
def test_bad_arguments_give_one_line(args: list[str], message: str, env: object) -> None:
    result = run_cli(*args)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # argparse's usage errors too


def test_bad_configuration_is_one_line(env: object, monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, soft_bounce_limit="many")
    result = run_cli("status", "a@example.com")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "BOUNCE_WORKER_SOFT_BOUNCE_LIMIT must be a whole number" in result.stderr


def test_server_database_must_be_migrated_on_purpose(
    env: object, monkeypatch: pytest.MonkeyPatch, empty_pg_url: str
) -> None:
    set_env(monkeypatch, database_url=empty_pg_url)
    result = run_cli("status", "a@example.com")
    assert result.returncode == 1
    assert "bounce-worker db upgrade" in result.stderr and "Traceback" not in result.stderr


def test_help_explains() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("process", "publish", "status", "unlock-expired", "db", "demo"):
        assert command in result.stdout
