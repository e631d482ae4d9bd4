"""A real worker process consuming from the real Redis writes transitions to PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, func, select

from bounce_worker.store.models import DeadLetterRow, EntryRow, ProcessedEventRow, TransitionRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import Worker, run_cli, wait_until


def count(engine: Engine, model: type) -> int:
    with UnitOfWork(engine) as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def test_worker_on_redis_writes_transitions_to_postgresql(
    worker: Worker, worker_env: Engine, tmp_path: Path
) -> None:
    events = [
        {
            "event_id": "w-1",
            "type": "bounce",
            "recipient": "gone@example.org",
            "status": "5.1.1",
            "smtp_code": 550,
            "diagnostic": "550 5.1.1 user unknown",
            "occurred_at": "2026-11-22T10:00:00Z",
        },
        {
            "event_id": "w-2",
            "type": "complaint",
            "recipient": "angry@example.org",
            "organization": "acme",
            "feedback_type": "abuse",
            "occurred_at": "2026-11-22T10:01:00Z",
        },
        {
            "event_id": "w-3",
            "type": "bounce",
            "recipient": "full@example.org",
            "status": "5.2.2",
            "diagnostic": "552 5.2.2 mailbox full",
            "occurred_at": "2026-11-22T10:02:00Z",
        },
    ]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(e) for e in events) + "\n{broken\n")

    published = run_cli("publish", str(feed))
    assert published.returncode == 0, published.stderr
    assert "published 4 events" in published.stdout

    wait_until(
        lambda: count(worker_env, ProcessedEventRow) == 3 and count(worker_env, DeadLetterRow) == 1
    )
    with UnitOfWork(worker_env) as uow:
        rows = {
            r.address: (r.scope, r.organization, r.state, r.reason)
            for r in uow.session.scalars(select(EntryRow))
        }
        transitions = list(uow.session.scalars(select(TransitionRow).order_by(TransitionRow.id)))
        dead = uow.session.scalars(select(DeadLetterRow)).one()
    assert rows == {
        "gone@example.org": ("global", "", "blocked", "hard_bounce"),
        "angry@example.org": ("organization", "acme", "blocked", "complaint"),
        "full@example.org": ("global", "", "temporarily_blocked", "mailbox_full"),
    }
    assert {(t.event_id, t.from_state, t.to_state) for t in transitions} == {
        ("w-1", "active", "blocked"),
        ("w-2", "active", "blocked"),
        ("w-3", "active", "temporarily_blocked"),
    }
    assert dead.payload == b"{broken"  # stored exactly as received
    assert dead.reason.startswith("not valid JSON")


def test_grouped_single_events_on_the_solo_pool_with_task_events(
    worker_env: Engine, tmp_path: Path
) -> None:
    # process_event messages are grouped (grouping.EventGroups), which sends a task-started
    # event per message; with the solo pool and events on, an extra pid field raised
    # TypeError and the group never ran.
    worker = Worker(extra_args=["--pool", "solo", "-E"], concurrency=1).start()
    try:
        feed = tmp_path / "feed.jsonl"
        events = [
            {"event_id": f"solo-{i}", "type": "bounce", "status": "5.1.1",
             "recipient": f"solo{i}@example.org", "occurred_at": "2026-11-22T10:00:00Z"}
            for i in range(5)
        ]  # fmt: skip
        feed.write_text("".join(json.dumps(e) + "\n" for e in events))
        published = run_cli("publish", "--batch-size", "1", str(feed))
        assert published.returncode == 0, published.stderr
        wait_until(lambda: count(worker_env, ProcessedEventRow) == 5)
        assert count(worker_env, DeadLetterRow) == 0
        assert "TypeError" not in worker.log.read_text(errors="replace")
    finally:
        worker.stop()
