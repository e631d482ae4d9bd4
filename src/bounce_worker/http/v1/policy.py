"""GET /v1/policy and PUT /v1/policy: an organization's own soft-bounce limit and temporary
block ladder (org_policy.py). An owner reads and sets its own organization's; support any
(naming it). Setting needs a written reason and is audited; a refusal is 403, audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from bounce_worker import audit, org_policy
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.http.v1.identity import ApiError, Operator, acting_for, engine

router = APIRouter(tags=["operator"])


def _answer(organization: str) -> dict[str, Any]:
    base = settings().policy
    found = next(iter(org_policy.listing(engine(), organization)), None)
    limit = found.soft_bounce_limit if found else None
    ladder = found.ladder_days if found else None
    return {
        "organization": organization,
        "soft_bounce_limit": limit or base.soft_bounce_limit,
        "ladder_days": list(ladder or base.ladder_days),
        "overrides": {"soft_bounce_limit": limit, "ladder_days": list(ladder) if ladder else None},
    }


@router.get("/policy", summary="An organization's soft-bounce limit and temporary-block ladder")
def get_policy(
    request: Request,
    who: Operator,
    organization: str | None = Query(None, description="support: whose (required)"),
) -> dict[str, Any]:
    org = acting_for(request, who, organization)
    if org is None:
        raise ApiError(422, "name the organization (support acts for any)")
    return _answer(org)


class PolicyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organization: str | None = Field(None, description="support only; an owner sets its own")
    soft_bounce_limit: int | None = Field(None, ge=1, le=1000, description="None: the default")
    ladder_days: list[int] | None = Field(None, description="e.g. [1, 2, 3, 90]; None: default")
    reason: str = Field(..., min_length=1, description="the written reason (kept)")


@router.put("/policy", summary="Set an organization's soft-bounce limit and ladder (audited)")
async def put_policy(request: Request, who: Operator, body: PolicyChange) -> dict[str, Any]:
    org = await run_in_threadpool(acting_for, request, who, body.organization)
    if org is None:
        raise ApiError(422, "name the organization (support acts for any)")
    try:
        ladder = org_policy.parse_ladder(body.ladder_days)
        done = await run_in_threadpool(
            lambda: org_policy.set_policy(
                engine(), org, soft_bounce_limit=body.soft_bounce_limit, ladder_days=ladder,
                now=utcnow(), actor=who.actor,
            )
        )  # fmt: skip
    except org_policy.BadPolicy as exc:
        raise ApiError(422, str(exc)) from None
    await run_in_threadpool(
        lambda: audit.record(
            engine(), audit.Who.of(who), "PUT /v1/policy", "done", now=utcnow(),
            organization=org, target=f"policy {org}", reason=body.reason,
            detail=str(done.to_dict()),
        )
    )  # fmt: skip
    return await run_in_threadpool(_answer, org)
