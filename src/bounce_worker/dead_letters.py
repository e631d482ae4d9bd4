"""Dead letters: list them, and replay them through the entry point they first took.

Replay is a dispatch on the dead letter's `kind`: each kind registers the function that
first handled its payload ("event": a normalized event, "raw": a mail, "webhook": an ESP
delivery stored as {"provider", "payload"}); all of them end in the one event writer
(apply.py), as the worker does. Inside a replay (`apply.replaying`), the writer re-files
a new failure on the same row (its reason updated) instead of adding one, so a replay that
fails again stays one dead letter. A dead letter is marked replayed in a transaction of its
own after its events committed: a crash in between leaves it pending, and replaying it
again finds its events already applied (duplicates), which changes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from bounce_worker import ingest, limits, service
from bounce_worker.config import Settings
from bounce_worker.store.models import DeadLetterRow
from bounce_worker.store.uow import UnitOfWork

# (engine, payload, source, settings, now) -> what happened to the payload this time
Replayer = Callable[[Engine, bytes, str | None, Settings, datetime], Counter[service.Result]]

REPLAYERS: dict[str, Replayer] = {}


def register_replayer(kind: str, replayer: Replayer) -> None:
    REPLAYERS[kind] = replayer


def _replay_event(
    engine: Engine, payload: bytes, source: str | None, s: Settings, now: datetime
) -> Counter[service.Result]:
    decoded = service.decode_payloads([payload], [source], max_bytes=s.max_message_bytes)
    (result,) = service.apply_and_follow(engine, decoded, policy=s.policy, now=now)
    return Counter({result: 1})


def _replay_raw(
    engine: Engine, payload: bytes, source: str | None, s: Settings, now: datetime
) -> Counter[service.Result]:
    return ingest.ingest_configured(engine, payload, s, source=source, now=now)


def _replay_webhook(
    engine: Engine, payload: bytes, source: str | None, s: Settings, now: datetime
) -> Counter[service.Result]:
    try:
        stored = json.loads(payload)
        provider, body = stored["provider"], stored["payload"]
    except (ValueError, TypeError, KeyError) as exc:
        service.dead_letter(engine, "webhook", source, payload, f"not a stored webhook: {exc}", now)
        return Counter({service.Result.DEAD_LETTERED: 1})
    return ingest.ingest_webhook(
        engine, provider, body, source=source, policy=s.policy, now=now, intake=s.intake
    )


register_replayer("event", _replay_event)
register_replayer("raw", _replay_raw)
register_replayer("webhook", _replay_webhook)


class UnknownDeadLetter(LookupError):
    """An id given to replay that is not in the table."""


def pending(
    engine: Engine, limit: int | None = None, *, everything: bool = False
) -> list[DeadLetterRow]:
    """The newest dead letters, those not yet replayed unless `everything`."""
    with UnitOfWork(engine) as uow:
        return uow.dead_letters(pending_only=not everything, limit=limit)


def replay(
    engine: Engine, s: Settings, now: datetime, ids: list[int] | None = None
) -> Counter[str]:
    """Replay the given dead letters (all not yet replayed when `ids` is None), oldest
    first. Counts per dead letter: applied (something new was applied), duplicate
    (everything was already applied, or ignored), dead_lettered (failed again),
    no_replayer (a kind nobody handles)."""
    with UnitOfWork(engine) as uow:
        rows = uow.dead_letters(ids)
    if ids is not None:
        missing = sorted(set(ids) - {r.id for r in rows})
        if missing:
            raise UnknownDeadLetter(f"no dead letter with id {', '.join(map(str, missing))}")
    counts: Counter[str] = Counter()
    for row in sorted(rows, key=lambda r: r.id):
        replayer = REPLAYERS.get(row.kind)
        if replayer is None:
            counts["no_replayer"] += 1
            continue
        with service.replaying(row.id):
            results = _replay_one(engine, row, replayer, s, now)
        outcome = _outcome(results)
        counts[outcome] += 1
        if outcome != service.Result.DEAD_LETTERED:
            with UnitOfWork(engine) as uow:
                uow.mark_replayed(row.id, now)
                uow.commit()
    return counts


def _replay_one(
    engine: Engine, row: DeadLetterRow, replayer: Replayer, s: Settings, now: datetime
) -> Counter[service.Result]:
    """One dead letter under the time limit of the task that handles its kind (limits.py):
    one that takes longer stays a dead letter, with that reason."""
    seconds = limits.replay_time_limit(row.kind, s.task_time_limit_cap)
    try:
        with limits.deadline(seconds, f"replay of dead letter {row.id}"):
            return replayer(engine, row.payload, row.source, s, now)
    except limits.TimeLimitExceeded as exc:
        service.dead_letter(engine, row.kind, row.source, row.payload, str(exc), now)
        return Counter({service.Result.DEAD_LETTERED: 1})


def _outcome(results: Counter[service.Result]) -> str:
    """One word for a dead letter whose payload may have held several events."""
    if results[service.Result.DEAD_LETTERED]:
        return str(service.Result.DEAD_LETTERED)
    if results[service.Result.APPLIED]:
        return str(service.Result.APPLIED)
    return str(service.Result.DUPLICATE)


def discard(engine: Engine, ids: list[int]) -> int:
    """Delete dead letters an operator judged will never apply (the audit log keeps who
    and why). All or nothing: an unknown id refuses the whole call."""
    with UnitOfWork(engine) as uow:
        rows = uow.dead_letters(ids)
        missing = sorted(set(ids) - {r.id for r in rows})
        if missing:
            raise UnknownDeadLetter(f"no dead letter with id {', '.join(map(str, missing))}")
        for row in rows:
            uow.session.delete(row)
        uow.commit()
    return len(rows)
