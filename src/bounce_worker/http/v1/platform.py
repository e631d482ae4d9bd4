"""GET /v1/stats (per organization and channel, lost vs never sent; an owner sees its own
rows and the global ones; live, the feedback recorded without changing state) and the dead
letters (support): list, replay, discard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from bounce_worker import audit, dead_letters, jobs, recorded
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.domain.events import format_instant
from bounce_worker.http.v1.identity import ApiError, Operator, Support, acting_for, engine

router = APIRouter(tags=["platform"])

FIGURES = ("active", "temporarily_blocked", "blacklisted", "blocked", "lost", "never_sent")


@router.get("/stats", summary="The latest figures per organization and channel")
def stats(
    request: Request,
    who: Operator,
    organization: str | None = Query(None, description="support only: one organization"),
) -> dict[str, Any]:
    org = acting_for(request, who, organization)
    rows = jobs.latest_stats(engine(), org)
    return {
        "computed_at": format_instant(rows[0].computed_at) if rows else None,
        "rows": [
            {"organization": r.organization or None, "channel": r.channel}
            | {f: getattr(r, f) for f in FIGURES}
            for r in rows
        ],
        # Live, platform-wide (such feedback has no trusted organization): SPEC 7.
        "recorded_only": recorded.as_json(recorded.recorded_only(engine(), utcnow())),
    }


@router.get("/dead-letters", summary="Inputs that could not be applied, newest first")
def dead_letter_list(
    who: Support,
    all: bool = Query(False, description="replayed ones too"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    rows = dead_letters.pending(engine(), limit, everything=all)
    return {
        "rows": [
            {
                "id": r.id,
                "received_at": format_instant(r.received_at),
                "kind": r.kind,
                "source": r.source,
                "reason": r.reason,
                "replayed_at": format_instant(r.replayed_at),
                "payload": r.payload.decode("utf-8", "replace")[:2000],
            }
            for r in rows
        ]
    }


class DeadLetterIds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[int] = Field(..., min_length=1, max_length=1000)
    reason: str = Field(..., min_length=1, description="why (kept in the audit log)")


@router.post("/dead-letters/replay", summary="Re-run dead letters through their first path")
def replay(request: Request, who: Support, body: DeadLetterIds) -> dict[str, Any]:
    try:
        counts = dead_letters.replay(engine(), settings(), utcnow(), body.ids)
    except dead_letters.UnknownDeadLetter as exc:
        raise ApiError(404, str(exc)) from None
    audit.record(
        engine(), audit.Who.of(who), "POST /v1/dead-letters/replay", "done", now=utcnow(),
        target=f"dead letters {', '.join(map(str, body.ids))}", reason=body.reason,
        detail=", ".join(f"{k} {n}" for k, n in sorted(counts.items())),
    )  # fmt: skip
    return {"replayed": len(body.ids), "outcomes": dict(counts)}


@router.post("/dead-letters/discard", summary="Delete dead letters that will never apply")
def discard(request: Request, who: Support, body: DeadLetterIds) -> dict[str, Any]:
    try:
        gone = dead_letters.discard(engine(), body.ids)
    except dead_letters.UnknownDeadLetter as exc:
        raise ApiError(404, str(exc)) from None
    audit.record(
        engine(), audit.Who.of(who), "POST /v1/dead-letters/discard", "done", now=utcnow(),
        target=f"dead letters {', '.join(map(str, body.ids))}", reason=body.reason,
        detail=f"discarded {gone}",
    )  # fmt: skip
    return {"discarded": gone}
