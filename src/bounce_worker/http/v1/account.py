"""GET /v1/me (what this key is) and GET /v1/audit (what was done, and refused)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from bounce_worker import audit
from bounce_worker.http.v1.identity import AnyKey, Operator, acting_for, engine

router = APIRouter(tags=["identity"])


@router.get("/me", summary="The key's identity: role, organization, holder")
def me(who: AnyKey) -> dict[str, Any]:
    return {
        "key_id": who.key_id,
        "name": who.name,
        "role": str(who.role),
        "organization": who.organization,
        "platform_wide": who.platform_wide,
    }


@router.get("/audit", summary="The audit log, newest first (an owner sees its organization's)")
def audit_log(
    request: Request,
    who: Operator,
    organization: str | None = Query(None, description="support: one organization's rows"),
    outcome: str | None = Query(None, pattern="^(done|unchanged|denied|failed)$"),
    before: int | None = Query(None, description="page back: rows with a smaller id"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    org = acting_for(request, who, organization)
    rows = audit.listing(engine(), organization=org, outcome=outcome, before=before, limit=limit)
    return {"rows": rows, "next_before": rows[-1]["id"] if len(rows) == limit else None}
