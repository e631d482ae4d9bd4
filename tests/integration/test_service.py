"""The service layer on the real databases: the SPEC's answers end to end, on both."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from bounce_worker import api, jobs
from bounce_worker.domain.policy import PolicySettings
from bounce_worker.service import Result, process_payload
from bounce_worker.store.models import DeadLetterRow, DeliveryRow, TransitionRow
from bounce_worker.store.uow import UnitOfWork

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
POLICY = PolicySettings()
_seq = iter(range(1_000_000))


def event(
    kind: str = "bounce", recipient: str = "user@example.org", **fields: Any
) -> dict[str, Any]:
    return {
        "event_id": f"e-{next(_seq)}",
        "type": kind,
        "recipient": recipient,
        "occurred_at": "2026-11-22T10:00:00Z",
        **fields,
    }


def apply(engine: Engine, *events: dict[str, Any]) -> list[Result]:
    return [process_payload(engine, e, source="test", policy=POLICY, now=NOW) for e in events]


def test_duplicate_event_id_changes_nothing(any_engine: Engine) -> None:
    e = event(status="5.1.1", organization="acme")
    assert apply(any_engine, e, e, dict(e, diagnostic="changed")) == [
        Result.APPLIED,
        Result.DUPLICATE,
        Result.DUPLICATE,
    ]
    verdict = api.check("user@example.org", engine=any_engine)
    assert verdict.state == "blocked" and len(verdict.transitions) == 1


def test_mailbox_full_on_blocked_address_stays_blocked_with_history(any_engine: Engine) -> None:
    apply(
        any_engine,
        event(status="5.1.1", diagnostic="550 5.1.1 user unknown"),
        event(
            status="5.2.2", diagnostic="552 5.2.2 mailbox full", occurred_at="2026-11-22T11:00:00Z"
        ),
    )
    v = api.check("USER@example.org", engine=any_engine)
    assert (v.state, v.reason, v.blocked_until) == ("blocked", "hard_bounce", None)
    assert [(t["from"], t["to"], t["reason"]) for t in v.transitions] == [
        ("active", "blocked", "hard_bounce"),
        ("blocked", "blocked", "mailbox_full"),
    ]
    assert v.transitions[1]["diagnostic"] == "552 5.2.2 mailbox full"


def test_ladder_through_the_service_and_unlock(any_engine: Engine) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    expected_days = [1, 2, 3, 90, 90]
    for days in expected_days:
        apply(any_engine, event(status="4.2.2", occurred_at=at.isoformat()))
        v = api.check("user@example.org", engine=any_engine)
        assert v.state == "temporarily_blocked"
        assert v.blocked_until == (at + timedelta(days=days)).isoformat().replace("+00:00", "Z")
        end = at + timedelta(days=days)
        assert jobs.unlock_expired(any_engine, now=end - timedelta(microseconds=1)).rows == 0
        assert jobs.unlock_expired(any_engine, now=end).rows == 1  # boundary: blocked_until == now
        assert jobs.unlock_expired(any_engine, now=end).rows == 0  # re-running is harmless
        at = end + timedelta(days=1)
    v = api.check("user@example.org", engine=any_engine)
    assert v.state == "active" and v.temporary_block_count == 5
    assert [t["reason"] for t in v.transitions].count("block_expired") == 5


def test_scopes_and_effective_state(any_engine: Engine) -> None:
    apply(
        any_engine,
        event("complaint", "a@example.org", organization="acme", feedback_type="abuse"),
        event("unsubscribe", "b@example.org", organization="acme", list="news"),
    )
    assert api.check("a@example.org", organization="acme", engine=any_engine).state == "blocked"
    assert api.check("a@example.org", organization="globex", engine=any_engine).state == "active"
    assert api.check("a@example.org", engine=any_engine).state == "active"
    assert (
        api.check("b@example.org", organization="acme", list="news", engine=any_engine).state
        == "blacklisted"
    )
    assert (
        api.check("b@example.org", organization="acme", list="other", engine=any_engine).state
        == "active"
    )


def test_soft_bounces_delivery_resets_then_limit(any_engine: Engine) -> None:
    soft = {"status": "4.4.1", "organization": "acme"}
    apply(any_engine, *[event(**soft) for _ in range(4)])
    apply(any_engine, event("delivered", organization="acme"))
    apply(any_engine, *[event(**soft) for _ in range(4)])
    assert api.check("user@example.org", organization="acme", engine=any_engine).state == "active"
    apply(any_engine, event(**soft))
    v = api.check("user@example.org", organization="acme", engine=any_engine)
    assert (v.state, v.reason) == ("blacklisted", "soft_bounce_limit")
    with UnitOfWork(any_engine) as uow:
        assert uow.session.scalar(select(func.count()).select_from(DeliveryRow)) == 1


def test_opt_in_lifts_unsubscribe_not_complaint(any_engine: Engine) -> None:
    apply(
        any_engine,
        event("unsubscribe", "u@example.org", organization="acme"),
        event("complaint", "c@example.org", organization="acme"),
        event("opt_in", "u@example.org", organization="acme", occurred_at="2026-11-22T12:00:00Z"),
        event("opt_in", "c@example.org", organization="acme", occurred_at="2026-11-22T12:00:00Z"),
    )
    assert api.check("u@example.org", organization="acme", engine=any_engine).state == "active"
    assert api.check("c@example.org", organization="acme", engine=any_engine).state == "blocked"


def test_policy_rejection_never_suppresses(any_engine: Engine) -> None:
    apply(any_engine, event(status="5.7.1", diagnostic="550 5.7.1 blocked using zen.spamhaus.org"))
    v = api.check("user@example.org", engine=any_engine)
    assert v.state == "active" and v.transitions[0]["reason"] == "policy_rejection"


def test_bad_input_is_dead_lettered_with_reason(any_engine: Engine) -> None:
    results = apply(any_engine, event(recipient="nope"))
    results.append(process_payload(any_engine, b"\xff\xfe{", source="t", policy=POLICY, now=NOW))
    assert results == [Result.DEAD_LETTERED, Result.DEAD_LETTERED]
    with UnitOfWork(any_engine) as uow:
        rows = list(uow.session.scalars(select(DeadLetterRow).order_by(DeadLetterRow.id)))
        assert uow.session.scalar(select(func.count()).select_from(TransitionRow)) == 0
    assert (
        "invalid email address" in rows[0].reason
        and json.loads(rows[0].payload)["recipient"] == "nope"
    )
    assert rows[1].payload == b"\xff\xfe{" and "not valid JSON" in rows[1].reason


def test_concurrent_workers_on_one_address_lose_no_update(pg_engine: Engine) -> None:
    """Upsert + SELECT ... FOR UPDATE: twelve writers at once, every count kept."""
    from concurrent.futures import ThreadPoolExecutor

    events = [
        event(status="4.4.1", organization="acme", recipient="hot@example.org") for _ in range(12)
    ]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda e: apply(pg_engine, e)[0], events))
    assert results == [Result.APPLIED] * 12
    v = api.check("hot@example.org", organization="acme", engine=pg_engine)
    assert v.state == "blacklisted"  # limit 5 reached
    assert v.entries[0]["soft_bounce_count"] == 12
    assert len(v.transitions) == 12
