"""Dead letters: list them, and replay them through the path they first took.

Replay is a dispatch on the dead letter's `kind`: each kind registers the function that
handles its payload ("event" is a normalized event; parsers add "raw" and "webhook" with
`register_replayer`). Inside a replay, service.dead_letter re-files a new failure on the
same row (its reason updated), so a replay that fails again stays one dead letter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from bounce_worker import service
from bounce_worker.config import Settings
from bounce_worker.store.models import DeadLetterRow
from bounce_worker.store.uow import UnitOfWork

# (engine, payload, source, settings, now) -> what happened to the payload this time
Replayer = Callable[[Engine, bytes, str | None, Settings, datetime], service.Result]

REPLAYERS: dict[str, Replayer] = {}


def register_replayer(kind: str, replayer: Replayer) -> None:
    REPLAYERS[kind] = replayer


def _replay_event(
    engine: Engine, payload: bytes, source: str | None, s: Settings, now: datetime
) -> service.Result:
    return service.process_payload(
        engine, payload, source=source, policy=s.policy, now=now, max_bytes=s.max_message_bytes
    )


register_replayer("event", _replay_event)


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
    first. Counts per outcome: applied, duplicate, dead_lettered, no_replayer."""
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
            result = replayer(engine, row.payload, row.source, s, now)
        counts[str(result)] += 1
        if result is not service.Result.DEAD_LETTERED:
            with UnitOfWork(engine) as uow:
                uow.mark_replayed(row.id, now)
                uow.commit()
    return counts
