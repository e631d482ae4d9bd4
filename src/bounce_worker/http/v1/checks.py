"""GET /v1/check (one address) and POST /v1/check (up to 10,000): may I send, and if not,
why. For a sender, an owner or support; the organization is the key's own (support names
one, or none for the global entries only)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from bounce_worker import api, lookup
from bounce_worker.domain.addresses import InvalidAddress
from bounce_worker.domain.permissions import Role
from bounce_worker.domain.targets import kind_of
from bounce_worker.http.v1.identity import ApiError, Checker, acting_for, engine, named

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


CHECKERS = frozenset({Role.SENDER, Role.OWNER, Role.SUPPORT})
CHANNELS = frozenset({"email", "sms"})


def channel_for(address: str, channel: str | None) -> str:
    """The channel asked, or the one rule's guess (domain.targets): `+4915...` is sms,
    anything else email; so a phone number needs no `channel=sms`, as in the CLI."""
    return channel or ("sms" if kind_of(address) == "sms" else "email")


class CheckAnswer(BaseModel):
    """The answer of GET /v1/check (documentation: the JSON is written by `answer`)."""

    address: str
    channel: Channel
    organization: str | None
    list: str | None
    may_send: bool
    state: str
    reason: str | None
    blocked_until: str | None
    scope: str | None = Field(None, description="the entry that stops the send, if any")


def answer(address: str, *, channel: str, organization: str | None, list_id: str | None) -> bytes:
    """The JSON of a check: one indexed read of the address's few candidate keys (its own,
    its forgotten hash's, its domain's). Raises InvalidAddress. Shared by the route and the
    framework-free fast path (fastcheck.py), so both answer byte for byte the same."""
    verdict, hit = api.check_fast(
        address, channel=channel, organization=organization, list=list_id, engine=engine()
    )
    return _answer_json(verdict, hit, channel, organization, list_id)


async def answer_async(
    address: str, *, channel: str, organization: str | None, list_id: str | None
) -> bytes:
    """`answer` with the read awaited (fastcheck.py): the same JSON, byte for byte."""
    verdict, hit = await api.check_fast_async(
        address, channel=channel, organization=organization, list=list_id, engine=engine()
    )
    return _answer_json(verdict, hit, channel, organization, list_id)


def _answer_json(
    verdict: api.Verdict,
    hit: lookup.Hit | None,
    channel: str,
    organization: str | None,
    list_id: str | None,
) -> bytes:
    return _dumps(
        {
            "address": verdict.address,
            "channel": channel,
            "organization": organization,
            "list": list_id,
            "may_send": verdict.may_send,
            "state": verdict.state,
            "reason": verdict.reason,
            "blocked_until": verdict.blocked_until,
            "scope": _scope(hit),
        }
    )


def _dumps(content: Any) -> bytes:
    # What starlette's JSONResponse writes, without its detour through jsonable_encoder.
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


@router.get(
    "/check",
    summary="May I send to this address? The answer and the reason",
    response_model=None,
    responses={200: {"model": CheckAnswer, "description": "the answer"}},
)
async def check(
    request: Request,
    who: Checker,
    address: str = Query(..., description="email address or +E.164 phone number"),
    channel: Annotated[Channel | None, Query(description="default: sms for +E.164")] = None,
    list: str | None = Query(None, description="the list the send goes to"),
    organization: str | None = Query(None, description="support only: whose send"),
) -> Response:
    # async with the lookup on the event loop: one indexed SELECT (~0.2 ms); the thread
    # pool's round trip cost as much (see identity.py). Ordinary calls are answered before
    # they get here, by fastcheck.FastCheck; this route answers the first call of a key
    # and every refusal or bad input.
    org = acting_for(request, who, organization, target=address)
    _list_needs_organization(named(list, "list"), org)
    try:
        body = answer(
            address, channel=channel_for(address, channel), organization=org, list_id=list
        )
    except InvalidAddress as exc:
        raise ApiError(422, f"invalid address: {exc}") from None
    return Response(body, media_type="application/json")


def _list_needs_organization(list_id: str | None, organization: str | None) -> None:
    # A list lives inside an organization: support naming a list and no organization had
    # the list ignored, and a list unsubscribe answered may_send: true.
    if list_id and organization is None:
        raise ApiError(422, "list needs organization (a list belongs to an organization)")


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
    _list_needs_organization(named(body.list, "list"), org)
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
