"""POST /v1/suppress, /v1/lift, /v1/delete, /v1/restore (owner or support, with a written
reason) and POST /v1/forget (support). The actor on the transition is the key's holder;
the organization is the key's own (support names one). Every call is audited: done,
unchanged, or denied with the reason."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from bounce_worker import audit, contacts, erasure, operations
from bounce_worker.clock import utcnow
from bounce_worker.config import ConfigError, settings
from bounce_worker.domain.addresses import InvalidAddress
from bounce_worker.domain.identity import Principal
from bounce_worker.domain.permissions import Invalid, Refused
from bounce_worker.domain.policy import Scope, State
from bounce_worker.domain.targets import forgotten_key, parse_target
from bounce_worker.http.v1.identity import (
    ApiError,
    Operator,
    Support,
    acting_for,
    deny,
    engine,
    named,
)

router = APIRouter(tags=["operator"])


class Change(BaseModel):
    """Which entry, and why. No role: the key's role decides what is allowed."""

    model_config = ConfigDict(extra="forbid")
    target: str = Field(..., description="email, @domain / domain, or +E.164 phone number")
    scope: Literal["global", "organization", "list"] = "organization"
    organization: str | None = Field(
        None, description="support only; an owner acts for its own organization"
    )
    list: str | None = None
    reason: str = Field(..., min_length=1, description="the written reason (kept)")


class Suppression(Change):
    state: Literal["blacklisted", "temporarily_blocked", "blocked"] = "blacklisted"
    contact_id: str | None = Field(
        None,
        max_length=255,
        description="your contact id: links the address or phone to the contact's others "
        "in the organization (the cross-channel rule)",
    )


def _apply(
    request: Request,
    who: Principal,
    body: Change,
    action: Callable[..., operations.Change],
) -> dict[str, Any]:
    org = acting_for(request, who, body.organization, target=body.target)
    named(body.list, "list")
    contact_org = org
    if body.scope == Scope.GLOBAL:
        org = None  # a global entry belongs to no organization (an owner is refused below)
    try:
        target = parse_target(body.target)
        req = operations.Request(
            target, Scope(body.scope), org, body.list, who.actor, body.reason, who.role
        )
        change = action(engine(), req, now=utcnow(), secret=settings().secret_key)
    except (InvalidAddress, Invalid) as exc:
        raise ApiError(422, str(exc).replace("--", "")) from None
    except operations.NoEntry as exc:
        raise ApiError(404, str(exc)) from None
    except Refused as exc:
        deny(request, who, str(exc), organization=org, target=body.target, reason=body.reason)
    contact_id = getattr(body, "contact_id", None)
    if contact_id:  # a manual entry's contact id links the address (bounce_worker.contacts)
        contacts.link_manual(engine(), contact_org, contact_id, target, utcnow())
    audit.record(
        engine(), audit.Who.of(who), f"POST {request.url.path}",
        "done" if change.changed else "unchanged", now=utcnow(), organization=org,
        target=change.entry, reason=body.reason, detail=change.message,
    )  # fmt: skip
    return {
        "entry": change.entry,
        "from_state": change.from_state,
        "to_state": change.to_state,
        "changed": change.changed,
        "message": change.message,
        "actor": who.actor,
    }


@router.post("/suppress", summary="Add a manual entry (raises the state, never weakens it)")
def suppress(request: Request, who: Operator, body: Suppression) -> dict[str, Any]:
    return _apply(request, who, body, partial(operations.suppress, state=State(body.state)))


@router.post("/lift", summary="Back to active (an owner lifts its blacklisted entries only)")
def lift(request: Request, who: Operator, body: Change) -> dict[str, Any]:
    return _apply(request, who, body, operations.lift)


@router.post("/delete", summary="Hide an entry from listings and exports; still enforced")
def delete(request: Request, who: Operator, body: Change) -> dict[str, Any]:
    return _apply(request, who, body, operations.delete)


@router.post("/restore", summary="Show a deleted entry again")
def restore(request: Request, who: Operator, body: Change) -> dict[str, Any]:
    return _apply(request, who, body, operations.restore)


class Forget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str
    reason: str = Field(..., min_length=1, description="e.g. the erasure request's reference")


@router.post("/forget", summary="Erase what is stored about an address; it stays suppressed")
def forget(request: Request, who: Support, body: Forget) -> dict[str, Any]:
    try:
        target = parse_target(body.address)
        done = erasure.forget(
            engine(), target, actor=who.actor, now=utcnow(), secret=settings().secret_key,
        )  # fmt: skip
    except InvalidAddress as exc:
        raise ApiError(422, f"invalid address: {exc}") from None
    except (Refused, ConfigError) as exc:  # a domain given; no secret key configured
        raise ApiError(409, str(exc)) from None
    audit.record(
        engine(), audit.Who.of(who), "POST /v1/forget", "done", now=utcnow(),
        # The audit row names the keyed hash: the address itself is what was erased.
        target=forgotten_key(settings().secret_key or "", target.channel, target.key),
        reason=body.reason,
        detail=", ".join(f"{k} {n}" for k, n in sorted(dict(done).items())),
    )  # fmt: skip
    return {"address": body.address, "erased": dict(done)}  # (the caller's own words back)
