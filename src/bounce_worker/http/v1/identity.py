"""Identity at the edge: the API key in `Authorization: Bearer <key>` becomes a Principal
once per request; routes declare the roles they allow and ask `acting_for` which
organization a call may act for. Every refusal (403) is written to the audit log before
it is answered. No route reads a role or an organization from the request to widen what
the key may do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, NoReturn

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from bounce_worker import audit, credentials
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.domain import identity
from bounce_worker.domain.identity import Forbidden, Principal
from bounce_worker.domain.permissions import Role
from bounce_worker.store.db import get_engine


class ApiError(Exception):
    """An expected failure of a /v1 call: answered `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


async def api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


PREFIX = "/v1"  # where app.create_app mounts this router


def engine() -> Engine:
    return get_engine(settings().database_url)


_bearer = HTTPBearer(auto_error=False, description="an API key from `bounce-worker keys create`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The key's principal; 401 without a key or with a wrong or revoked one.

    async, with the key's row read on the event loop: one indexed single-row SELECT
    (~0.2 ms), where a hop to the thread pool and back cost as much CPU as the read
    itself (bench/api.py); and only when this process has not verified the key within
    BOUNCE_WORKER_API_KEY_CACHE_SECONDS. Only a key not yet seen by this process pays
    scrypt (~50 ms), once."""
    if creds is None:
        raise ApiError(401, "missing API key: send `Authorization: Bearer <key>`", _CHALLENGE)
    found = credentials.authenticate(
        engine(), creds.credentials, cache_seconds=settings().api_key_cache_seconds
    )
    if found is None:
        raise ApiError(401, "invalid or revoked API key", _CHALLENGE)
    request.state.principal = found
    return found


def action_of(request: Request) -> str:
    """`GET /v1/contacts/{address}`: the route's template, not the address asked for."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    # The route's path may be its router's own (without the mount prefix).
    return f"{request.method} {path if path.startswith(PREFIX) else PREFIX + path}"


def deny(
    request: Request,
    who: Principal,
    why: str,
    *,
    organization: str | None = None,
    target: str | None = None,
    reason: str | None = None,
) -> NoReturn:
    """Audit the refused call, then answer 403 with the one-line reason."""
    audit.record(
        engine(), audit.Who.of(who), action_of(request), "denied", now=utcnow(),
        organization=organization or who.organization, target=target, reason=reason,
        detail=why,
    )  # fmt: skip
    raise ApiError(403, why)


def allow(*roles: Role) -> Callable[..., Principal]:
    """A dependency: the principal, if its role is one of `roles` (else 403, audited)."""

    async def dependency(
        request: Request, who: Annotated[Principal, Depends(principal)]
    ) -> Principal:
        # async: a role check needs no thread; only a refusal writes (the audit row).
        try:
            identity.require_role(who, roles, f"call {action_of(request)}")
        except Forbidden as exc:
            await run_in_threadpool(deny, request, who, str(exc))
        return who

    return dependency


def acting_for(
    request: Request, who: Principal, requested: str | None, *, target: str | None = None
) -> str | None:
    """The organization this call acts for (see domain.identity.acting_for); 403 audited."""
    try:
        return identity.acting_for(who, requested)
    except Forbidden as exc:
        deny(request, who, str(exc), target=target)


# The principal of a key with one of these roles (route parameters' types).
AnyKey = Annotated[Principal, Depends(allow(*Role))]
Checker = Annotated[Principal, Depends(allow(Role.SENDER, Role.OWNER, Role.SUPPORT))]
Operator = Annotated[Principal, Depends(allow(Role.OWNER, Role.SUPPORT))]
Support = Annotated[Principal, Depends(allow(Role.SUPPORT))]
