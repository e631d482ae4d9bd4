"""GET /v1/check without the framework: the sending platform's hot path.

FastAPI's dependency solving, query validation, routing and middleware stack cost more CPU
per call than the check's own indexed read (bench/api.py, docs/api.md "Speed"). This ASGI
layer sits outside the app and answers the *ordinary* call itself: a key this process
verified within BOUNCE_WORKER_API_KEY_CACHE_SECONDS (read again in the background before
that time is out: identity.known), a role that may check, the usual query
parameters, an address that parses. The answer is the route's own (`checks.answer`), in the
same JSON. Anything else - no key or an unknown one, a refused role or organization, an odd
or repeated parameter, a bad address - goes on to the FastAPI route, which authenticates,
refuses (401/403, audited) or validates (422) exactly as for every other route, and whose
signature is what the OpenAPI description shows.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from bounce_worker.domain.addresses import InvalidAddress
from bounce_worker.domain.identity import Forbidden, acting_for
from bounce_worker.http.v1 import checks
from bounce_worker.http.v1.identity import known

PATH = "/v1/check"
_PARAMETERS = frozenset({"address", "channel", "list", "organization"})
_HEADERS = [(b"content-type", b"application/json")]


class FastCheck:
    """Answers an ordinary GET /v1/check; passes every other request to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            body = await answer(scope)
            if body is not None:
                headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


async def answer(scope: Scope) -> bytes | None:
    """The JSON answer of an ordinary check, or None: let the FastAPI route handle it.
    On the event loop: one indexed read, awaited (store.db.AsyncHotReader), no thread hop."""
    presented = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, presented = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            break
    if not presented:
        return None
    who = known(presented)
    if who is None or who.role not in checks.CHECKERS:
        return None
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= _PARAMETERS:
        return None
    if not all(params.values()) or params.get("channel", "email") not in checks.CHANNELS:
        return None
    if "address" not in params:
        return None
    try:
        organization = acting_for(who, params.get("organization"))
        if organization is None and "list" in params:
            return None  # a list without its organization: the route refuses it (422)
        return await checks.answer_async(
            params["address"],
            channel=checks.channel_for(params["address"], params.get("channel")),
            organization=organization,
            list_id=params.get("list"),
        )
    except (Forbidden, InvalidAddress):
        return None
