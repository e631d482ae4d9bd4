"""POST /v1/events: the platform's own MTAs and services post normalized events (SPEC 4),
one JSON object or an array, with a producer key. The key names the organization (or is
platform-wide): an organization's producer cannot speak for another one, and its events
are verified and attributed by the key, never by the body (SPEC 7)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.domain import trust
from bounce_worker.domain.events import Event, InvalidEvent
from bounce_worker.domain.identity import Principal
from bounce_worker.domain.permissions import Role
from bounce_worker.http.publish import Outgoing, publisher
from bounce_worker.http.v1.identity import ApiError, acting_for, allow

router = APIRouter(tags=["intake"])
Producer = Annotated[Principal, Depends(allow(Role.PRODUCER, Role.SUPPORT))]


@router.post(
    "/events",
    status_code=202,
    summary="Queue feedback events (one object or an array) from a producer",
    responses={401: {"description": "no or a bad key"}, 422: {"description": "a bad event"}},
)
async def post_events(request: Request, who: Producer) -> JSONResponse:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise ApiError(422, "body is not JSON: send one event object or an array") from None
    items = body if isinstance(body, list) else [body]
    if not items:
        raise ApiError(422, "no events in the array")
    received = utcnow()
    skew = timedelta(seconds=settings().intake.clock_skew)
    events: list[dict[str, Any]] = []
    for n, item in enumerate(items, 1):
        try:
            event = Event.from_dict(item)
        except InvalidEvent as exc:
            raise ApiError(422, f"event {n}: {exc}") from None
        # The key decides the organization; a body naming another one is refused (audited).
        org = await run_in_threadpool(
            acting_for, request, who, event.organization, target=event.recipient
        )
        event = replace(event, organization=org, verified=True)
        events.append(trust.clamp_time(event, received, skew).to_dict())
    # At most BOUNCE_WORKER_BATCH_SIZE events per message, as `publish` packs them: the
    # worker applies a message in one transaction holding one advisory lock per key, and
    # one array of 20,000 events overflowed PostgreSQL's lock table (max_locks_per_
    # transaction), so its message was retried forever and never applied.
    size = settings().batch_size
    chunks = [events[start : start + size] for start in range(0, len(events), size)]
    ids = await asyncio.gather(*(publisher().send(_outgoing(chunk)) for chunk in chunks))
    answer: dict[str, Any] = {"queued": len(events), "message": ids[0]}
    if len(ids) > 1:
        answer["messages"] = ids
    return JSONResponse(answer, status_code=202)


def _outgoing(events: list[dict[str, Any]]) -> Outgoing:
    from bounce_worker.tasks import process_batch, process_event

    if len(events) == 1:
        return Outgoing(process_event, [events[0]], f"({{'event_id': {events[0]['event_id']!r}}},)")
    return Outgoing(process_batch, [events], f"([{len(events)} events],)")
