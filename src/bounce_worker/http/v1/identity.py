"""Identity at the edge: the API key in `Authorization: Bearer <key>` becomes a Principal
once per request; routes declare the roles they allow and ask `acting_for` which
organization a call may act for. Every refusal (403) is written to the audit log before
it is answered. No route reads a role or an organization from the request to widen what
the key may do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
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

    A key this process verified within BOUNCE_WORKER_API_KEY_CACHE_SECONDS is answered from
    memory, on the event loop. Any other is read and checked by `verify`, off the loop."""
    if creds is None:
        raise ApiError(401, "missing API key: send `Authorization: Bearer <key>`", _CHALLENGE)
    found = known(creds.credentials)
    if found is None:
        found = await verify(creds.credentials)
    if found is None:
        raise ApiError(401, "invalid or revoked API key", _CHALLENGE)
    request.state.principal = found
    return found


# Reading a key's row and, for a key new to this process, scrypt (~50 ms of CPU, on
# purpose) run on these threads, never on the event loop: there they stalled every request
# queued behind them (a second server process's first check of the bench's key: ~300 ms
# with the forgotten-entries probe). hashlib.scrypt lets go of the GIL. Four at once bound
# the memory (16 MiB each) when many unknown keys arrive together.
_KEY_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="api-keys")
# The presented key (its fingerprint) being verified now, and by which event loop: the
# requests that present it meanwhile wait for the same answer (one scrypt, one read).
_VERIFYING: dict[bytes, asyncio.Future[Principal | None]] = {}


def known(presented: str) -> Principal | None:
    """The principal of a key verified lately (no I/O), or None. Once half its cache time
    is gone, the key's row is read again in the background meanwhile (`verify`), so a key
    in steady use is never read on the request path, and a revoked one is still refused
    within BOUNCE_WORKER_API_KEY_CACHE_SECONDS."""
    cached = credentials.recent(presented)
    if cached is None:
        return None
    if cached.refresh_due:
        fingerprint = credentials.fingerprint(presented)
        if fingerprint not in _VERIFYING:
            _verifying(presented, fingerprint, reread=True)
    return cached.principal


async def verify(presented: str) -> Principal | None:
    """`credentials.authenticate` on a key thread; with the key cache on, the requests that
    present the same key meanwhile share one verification."""
    seconds = settings().api_key_cache_seconds
    if seconds <= 0:  # every request reads the row: nothing to share
        loop = asyncio.get_running_loop()
        read = partial(credentials.authenticate, engine(), presented)
        return await loop.run_in_executor(_KEY_THREADS, read)
    fingerprint = credentials.fingerprint(presented)
    pending = _VERIFYING.get(fingerprint)
    if pending is None or pending.get_loop() is not asyncio.get_running_loop():
        pending = _verifying(presented, fingerprint, reread=False)
    return await asyncio.shield(pending)


def _verifying(
    presented: str, fingerprint: bytes, *, reread: bool
) -> asyncio.Future[Principal | None]:
    loop = asyncio.get_running_loop()
    read = partial(
        credentials.authenticate,
        engine(),
        presented,
        cache_seconds=settings().api_key_cache_seconds,
        reread=reread,
    )
    pending = loop.run_in_executor(_KEY_THREADS, read)
    _VERIFYING[fingerprint] = pending

    def done(future: asyncio.Future[Principal | None]) -> None:
        if _VERIFYING.get(fingerprint) is future:
            del _VERIFYING[fingerprint]
        if not future.cancelled():
            # A background refresh that failed (database away) leaves the cached entry to
            # its deadline; after it, requests verify (and fail) themselves.
            future.exception()

    pending.add_done_callback(done)
    return pending


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


def named(value: str | None, what: str) -> str | None:
    """An organization or list a caller gave (query or body): None when left out, never
    blank (422): a blank one read as none, and widened the call (see acting_for; a blank
    `list=` checked the organization's entries only, so a list unsubscribe read may_send)."""
    if value is not None and not value.strip():
        raise ApiError(422, f"{what} is empty: name the {what}, or leave it out")
    return value


def acting_for(
    request: Request, who: Principal, requested: str | None, *, target: str | None = None
) -> str | None:
    """The organization this call acts for (see domain.identity.acting_for); 403 audited.
    A blank one is refused: it read as none, so support's `organization=` with an unset
    variable checked the global entries only and answered may_send for a blocked address."""
    named(requested, "organization")
    try:
        return identity.acting_for(who, requested)
    except Forbidden as exc:
        deny(request, who, str(exc), target=target)


# The principal of a key with one of these roles (route parameters' types).
AnyKey = Annotated[Principal, Depends(allow(*Role))]
Checker = Annotated[Principal, Depends(allow(Role.SENDER, Role.OWNER, Role.SUPPORT))]
Operator = Annotated[Principal, Depends(allow(Role.OWNER, Role.SUPPORT))]
Support = Annotated[Principal, Depends(allow(Role.SUPPORT))]
