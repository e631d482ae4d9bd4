"""Normalized events in: decode and validate payloads, then hand them to the one writer.

`process_payloads` takes many payloads to one transaction (apply.write), the ones that do
not decode or validate dead-lettered in that same transaction. It is two halves,
`decode_payloads` (pure) and `apply_decoded` (the database): the worker's tasks, a replay
and `bounce-worker process` (in two threads) call them in turn, the second through
`apply_and_follow`, which then follows the decoded events' contact links. A standalone
dead letter (a parser's refusal, a bug) is written by the same writer, in a transaction of
its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine

from bounce_worker import contacts
from bounce_worker.apply import Planned, Result, plan, replaying, write
from bounce_worker.domain.events import Event, InvalidEvent
from bounce_worker.domain.policy import PolicySettings
from bounce_worker.store.writer import DeadLetter

__all__ = [
    "Decoded",
    "PayloadTooLarge",
    "Result",
    "apply_and_follow",
    "apply_decoded",
    "as_bytes",
    "dead_letter",
    "decode_event",
    "decode_payloads",
    "process_payload",
    "process_payloads",
    "replaying",
    "sources",
]


class PayloadTooLarge(InvalidEvent):
    """A payload over the size limit; dead-lettered with its first `limit` bytes only."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"payload is {size} bytes, over the limit of {limit} "
            f"(BOUNCE_WORKER_MAX_MESSAGE_BYTES); only the first {limit} bytes are kept"
        )
        self.limit = limit


def check_size(payload: str | bytes | Mapping[str, Any], limit: int | None) -> None:
    """Raise PayloadTooLarge when the payload, as bytes, exceeds `limit` (None: no limit)."""
    if limit is None:
        return
    size = len(payload) if isinstance(payload, bytes) else len(as_bytes(payload))
    if size > limit:
        raise PayloadTooLarge(size, limit)


def process_payload(
    engine: Engine,
    payload: str | bytes | Mapping[str, Any],
    *,
    source: str | None,
    policy: PolicySettings,
    now: datetime,
    max_bytes: int | None = None,
) -> Result:
    """One normalized event: applied, a duplicate, or dead-lettered."""
    (result,) = process_payloads(
        engine, [payload], [source], policy=policy, now=now, max_bytes=max_bytes
    )
    return result


def process_payloads(
    engine: Engine,
    payloads: Sequence[Any],
    sources: Sequence[str | None],
    *,
    policy: PolicySettings,
    now: datetime,
    max_bytes: int | None = None,
    task_ids: Sequence[str] | None = None,
    durable: bool = True,
) -> list[Result]:
    """Decode, validate and apply many events in one transaction, with a source per
    payload (where its dead letter says it came from) and, when each payload was a
    message of its own, its task id (for the log lines); one result per payload, in order.
    One bad payload never fails the others."""
    decoded = decode_payloads(payloads, sources, max_bytes=max_bytes)
    return apply_decoded(
        engine, decoded, policy=policy, now=now, task_ids=task_ids, durable=durable
    )


class Decoded(NamedTuple):
    """Payloads decoded, validated and planned (`decode_payloads`): the database's part
    is left, `apply_decoded`."""

    count: int  # payloads
    planned: Planned  # the valid ones' events
    valid: list[int]  # the index of each of those events among the payloads
    invalid: list[DeadLetter]

    @property
    def events(self) -> Sequence[Event]:
        """The valid payloads' events, in payload order (what contacts.follow takes)."""
        return self.planned.events


def decode_payloads(
    payloads: Sequence[Any], sources: Sequence[str | None], *, max_bytes: int | None = None
) -> Decoded:
    """process_payloads' work before the database: pure, so `process` does it for the
    next batch in one thread while another writes this one."""
    events: list[Event] = []
    valid: list[int] = []
    invalid: list[DeadLetter] = []
    for index, (payload, where) in enumerate(zip(payloads, sources, strict=True)):
        try:
            check_size(payload, max_bytes)
            events.append(decode_event(payload))
            valid.append(index)
        except PayloadTooLarge as exc:  # keep only the first `limit` bytes of a huge payload
            invalid.append(DeadLetter("event", where, as_bytes(payload)[: exc.limit], str(exc)))
        except InvalidEvent as exc:
            invalid.append(DeadLetter("event", where, as_bytes(payload), str(exc)))
    return Decoded(len(payloads), plan(events), valid, invalid)


def apply_decoded(
    engine: Engine,
    decoded: Decoded,
    *,
    policy: PolicySettings,
    now: datetime,
    task_ids: Sequence[str] | None = None,
    durable: bool = True,
) -> list[Result]:
    """process_payloads' database part: one transaction; one result per payload."""
    count, planned, valid, invalid = decoded
    ids = [task_ids[i] for i in valid] if task_ids is not None else None
    applied, _ = write(
        engine, planned, invalid, policy=policy, now=now, task_ids=ids, durable=durable
    )
    results: list[Result] = [Result.DEAD_LETTERED] * count
    for index, result in zip(valid, applied, strict=True):
        results[index] = result
    return results


def apply_and_follow(
    engine: Engine,
    decoded: Decoded,
    *,
    policy: PolicySettings,
    now: datetime,
    task_ids: Sequence[str] | None = None,
    durable: bool = True,
) -> list[Result]:
    """apply_decoded, then, once they are committed, the events' contact links and the
    cross-channel rule (contacts.follow): what the worker's tasks, `process` and a replay
    do with the payloads they decoded."""
    results = apply_decoded(
        engine, decoded, policy=policy, now=now, task_ids=task_ids, durable=durable
    )
    contacts.follow(engine, decoded.events, policy=policy, now=now)
    return results


def sources(source: str | None, count: int) -> list[str | None]:
    """Where each item of a message came from, as its dead letter says: `task:ID#INDEX`."""
    return [source if count == 1 else f"{source}#{i}" for i in range(count)]


def decode_event(payload: str | bytes | Mapping[str, Any]) -> Event:
    if isinstance(payload, bytes | str):
        try:
            payload = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidEvent(f"not valid JSON: {exc}") from None
    return Event.from_dict(payload)


def dead_letter(
    engine: Engine,
    kind: str,
    source: str | None,
    payload: str | bytes | Mapping[str, Any],
    reason: str,
    now: datetime,
) -> int:
    """Store one payload as a dead letter (during a replay: re-file its reason); its id."""
    letter = DeadLetter(kind, source, as_bytes(payload), reason)
    return write(engine, [], [letter], policy=None, now=now)[1][0]


def as_bytes(payload: str | bytes | Mapping[str, Any]) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        try:  # surrogateescape gives back the bytes a reader decoded that way (cli/events.py)
            return payload.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # other lone surrogates: keep them visible, escaped
            return payload.encode("utf-8", "backslashreplace")
    return json.dumps(payload, default=str).encode()
