"""`bounce-worker dead-letters list|replay`, through the real console script on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from bounce_worker.store.models import DeadLetterRow, ProcessedEventRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import REPO, run_cli, set_env

LONG = {
    "event_id": "dl-long",
    "type": "bounce",
    "recipient": "full@example.org",
    "status": "5.2.2",
    "diagnostic": "552 5.2.2 mailbox full " + "x" * 3000,
    "occurred_at": "2026-11-22T10:00:00Z",
}


@pytest.fixture
def dead(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, pg_engine: Engine, pg_url: str,
         tmp_path: Path) -> Engine:  # fmt: skip
    """Three dead letters from `process`: bad JSON, an invalid event, one over the size limit."""
    set_env(monkeypatch, database_url=pg_url, max_message_bytes="2048")
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{broken\n{"event_id": "dl-2", "type": "bounce"}\n' + json.dumps(LONG) + "\n")
    done = run_cli("process", str(feed))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "applied 0, duplicates 0, dead-lettered 3"
    return pg_engine


def rows(engine: Engine) -> list[DeadLetterRow]:
    with UnitOfWork(engine) as uow:
        return list(uow.session.scalars(select(DeadLetterRow).order_by(DeadLetterRow.id)))


def test_list_shows_reasons_and_payloads(dead: Engine) -> None:
    listed = run_cli("dead-letters", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert [i["id"] for i in items] == [3, 2, 1]  # newest first
    by_id = {i["id"]: i for i in items}
    assert by_id[1]["payload"] == "{broken" and by_id[1]["reason"].startswith("not valid JSON")
    assert by_id[2]["reason"] == "recipient is required"
    assert "over the limit of 2048" in by_id[3]["reason"] and by_id[3]["bytes"] == 2048
    assert all(i["kind"] == "event" and i["replayed_at"] is None for i in items)

    assert [i["id"] for i in json.loads(run_cli("dead-letters", "list", "--json",
                                                "--limit", "1").stdout)] == [3]  # fmt: skip
    text = run_cli("dead-letters", "list")
    assert text.returncode == 0
    assert "\tevent\tpending\t" in text.stdout and "\trecipient is required\n" in text.stdout


def test_replay_applies_what_now_passes_and_keeps_what_fails_with_the_new_reason(
    dead: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fix: the oversized event was cut to the limit when stored, so it fails again (as
    # bad JSON now); the invalid event is repaired in place, as an operator might.
    with UnitOfWork(dead) as uow:
        fixed = json.dumps({**LONG, "event_id": "dl-2", "diagnostic": "552 mailbox full"})
        uow.session.execute(update(DeadLetterRow).where(DeadLetterRow.id == 2)
                            .values(payload=fixed.encode()))  # fmt: skip
        uow.session.execute(update(DeadLetterRow).where(DeadLetterRow.id == 1)
                            .values(reason="an older reason"))  # fmt: skip
        uow.commit()
    replayed = run_cli("dead-letters", "replay")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.strip() == "replayed 3: applied 1, duplicates 0, still dead 2"

    after = rows(dead)
    assert len(after) == 3  # a failed replay adds no dead letter
    assert after[0].reason.startswith("not valid JSON") and after[0].replayed_at is None
    assert after[1].replayed_at is not None
    assert after[2].replayed_at is None and after[2].reason.startswith("not valid JSON")
    with UnitOfWork(dead) as uow:
        assert set(uow.session.scalars(select(ProcessedEventRow.event_id))) == {"dl-2"}

    # Replayed ones leave the default list; replaying one again is harmless.
    pending = json.loads(run_cli("dead-letters", "list", "--json").stdout)
    assert [i["id"] for i in pending] == [3, 1]
    again = run_cli("dead-letters", "replay", "2")
    assert again.stdout.strip() == "replayed 1: applied 0, duplicates 1, still dead 0"


def test_replay_of_a_kind_without_replayer_leaves_it_alone(dead: Engine) -> None:
    with UnitOfWork(dead) as uow:
        uow.add_dead_letter("carrier-pigeon", None, b"coo", "unreadable", datetime.now(UTC))
        uow.commit()
    out = run_cli("dead-letters", "replay", "4")
    assert out.returncode == 0, out.stderr
    assert "no replayer for their kind 1" in out.stdout
    assert rows(dead)[3].replayed_at is None and rows(dead)[3].reason == "unreadable"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "99"], "bounce-worker: error: no dead letter with id 99"),
        (["replay", "x"], "not a whole number: 'x'"),
        (["list", "--limit", "0"], "must be at least 1, got 0"),
    ],
)
def test_bad_arguments_give_one_line(dead: Engine, args: list[str], message: str) -> None:
    out = run_cli("dead-letters", *args)
    assert out.returncode != 0
    assert message in out.stderr and "Traceback" not in out.stderr


def test_raw_mail_dead_letter_replays_through_the_mail_parsers(
    dead: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, max_message_bytes="1048576")  # the fixture's 2 KiB is for events
    mail = (REPO / "tests/unit/parsers/fixtures/dsn_postfix_org_list.eml").read_bytes()
    with UnitOfWork(dead) as uow:  # as a bug would have left it (tasks.dead_letter_on_bug)
        uow.add_dead_letter("raw", "test", mail, "internal error: KeyError", datetime.now(UTC))
        uow.commit()
    out = run_cli("dead-letters", "replay", "4")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "replayed 1: applied 1, duplicates 0, still dead 0"
    assert rows(dead)[3].replayed_at is not None


def test_a_binary_payload_is_stored_byte_for_byte(pg_engine: Engine) -> None:
    """The writer sends a dead letter's payload as a binary parameter: every byte value,
    and a payload of a raw mail's size, come back as they went in."""
    from bounce_worker import service

    payloads = [bytes(range(256)) * 4, b"\x00\xff" + b"x" * (3 * 1024 * 1024)]
    ids = [service.dead_letter(pg_engine, "raw", "test:binary", p, "reason",
                               datetime(2026, 12, 2, tzinfo=UTC)) for p in payloads]  # fmt: skip
    with UnitOfWork(pg_engine) as uow:
        stored = {r.id: bytes(r.payload) for r in uow.session.scalars(
            select(DeadLetterRow).where(DeadLetterRow.id.in_(ids)))}  # fmt: skip
    assert [stored[i] for i in ids] == payloads
