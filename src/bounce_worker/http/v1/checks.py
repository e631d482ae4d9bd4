"""GET /v1/check (one address) and POST /v1/check (up to 10,000): may I send, and if not,
why. For a sender, an owner or support; the organization is the key's own (support names
one, or none for the global entries only)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bounce_worker import api, lookup
from bounce_worker.domain.addresses import InvalidAddress
from bounce_worker.http.v1.identity import ApiError, Checker, acting_for, engine

router = APIRouter(tags=["check"])

MAX_BATCH = 10_000
Channel = Literal["email", "sms"]
Addresses = list[str]  # (a field of BatchCheck is named `list`)


def _scope(hit: lookup.Hit | None) -> str | None:
    if hit is None:
        return None
    parts = [hit.scope, hit.organization, hit.list]
    scope = "/".join(p for p in parts if p)
    return f"{scope} (domain {hit.address})" if hit.channel == "domain" else scope


@router.get("/check", summary="May I send to this address? The answer and the reason")
async def check(
    request: Request,
    who: Checker,
    address: str = Query(..., description="email address or +E.164 phone number"),
    channel: Channel = "email",
    list: str | None = Query(None, description="the list the send goes to"),
    organization: str | None = Query(None, description="support only: whose send"),
) -> dict[str, Any]:
    # async with the lookup on the event loop: one indexed SELECT of the address's few
    # candidate keys (~0.2 ms); the thread pool's round trip cost as much (see identity.py).
    org = acting_for(request, who, organization, target=address)
    try:
        verdict, hit = api.check_fast(
            address, channel=channel, organization=org, list=list, engine=engine()
        )
    except InvalidAddress as exc:
        raise ApiError(422, f"invalid address: {exc}") from None
    return {
        "address": verdict.address,
        "channel": channel,
        "organization": org,
        "list": list,
        "may_send": verdict.may_send,
        "state": verdict.state,
        "reason": verdict.reason,
        "blocked_until": verdict.blocked_until,
        "scope": _scope(hit),
    }


class BatchCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    addresses: Addresses = Field(..., max_length=MAX_BATCH)
    channel: Channel = "email"
    list: str | None = None
    organization: str | None = Field(None, description="support only: whose send")


@router.post(
    "/check",
    summary=f"The same answer for up to {MAX_BATCH:,} addresses, in input order",
)
def check_batch(request: Request, who: Checker, body: BatchCheck) -> JSONResponse:
    org = acting_for(request, who, body.organization, target=f"{len(body.addresses)} addresses")
    verdicts = api.check_many(
        body.addresses, channel=body.channel, organization=org, list=body.list, engine=engine()
    )
    results = [
        {
            "address": v.address,
            "may_send": v.state == "active",
            "state": v.state,
            "reason": v.reason,
            "blocked_until": v.blocked_until,
        }
        for v in verdicts
    ]
    stopped = sum(1 for r in results if not r["may_send"])
    # JSONResponse directly: 10,000 plain dicts need no validation on the way out.
    return JSONResponse(
        {
            "organization": org,
            "list": body.list,
            "channel": body.channel,
            "count": len(results),
            "may_send": len(results) - stopped,
            "stopped": stopped,
            "results": results,
        }
    )
