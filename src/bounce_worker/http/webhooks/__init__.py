"""Routes of the `webhooks` entry point; mounted by bounce_worker.http.app under /webhooks.

Each route checks its provider's documented authentication on the exact bytes received,
and only then publishes the payload (task `bounce_worker.ingest_webhook`) for a worker to
parse and apply. A refused request: 401/403 with a one-line reason, counted in
`bounce_worker_webhook_refusals_total`, and nothing queued.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bounce_worker.config import settings
from bounce_worker.http.publish import publish
from bounce_worker.http.webhooks import mailgun, postmark, sendgrid, sns
from bounce_worker.http.webhooks.refusal import Refused, unauthenticated
from bounce_worker.http.webhooks.replay import TokenStore, token_store
from bounce_worker.observability import metrics

router = APIRouter()
log = logging.getLogger("bounce_worker.webhooks")


@lru_cache(maxsize=1)
def _tokens() -> TokenStore:
    s = settings()
    return token_store(s.broker_url, s.queue)


def _json(body: bytes, provider: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise unauthenticated("malformed", f"{provider} body is not JSON") from None


async def _accept(
    provider: str, payload: Any, check: Callable[[], None] | None = None
) -> JSONResponse:
    """Publish the payload (after `check`, a blocking verification, in the same thread
    hop: one hop per request instead of two)."""
    from bounce_worker.tasks import ingest_webhook

    def run() -> str:
        if check is not None:
            check()
        return publish(ingest_webhook, [provider, payload])

    task_id = await run_in_threadpool(run)
    metrics.webhook_accepted(provider)
    return JSONResponse({"queued": task_id}, status_code=202)


def _refused(provider: str, refusal: Refused) -> JSONResponse:
    metrics.webhook_refused(provider, refusal.code)
    log.warning(
        "%s webhook refused: %s",
        provider,
        refusal.reason,
        extra={"provider": provider, "reason": refusal.reason, "code": refusal.code},
    )
    headers = {"WWW-Authenticate": 'Basic realm="bounce-worker"'} if refusal.status == 401 else {}
    return JSONResponse({"error": refusal.reason}, status_code=refusal.status, headers=headers)


async def _guarded(provider: str, handler: Callable[[], Any]) -> JSONResponse:
    try:
        return await handler()  # type: ignore[no-any-return]
    except Refused as refusal:
        return _refused(provider, refusal)


@router.post("/ses")
async def ses(request: Request) -> JSONResponse:
    """Amazon SES notifications delivered by SNS (Notification, SubscriptionConfirmation)."""

    async def handle() -> JSONResponse:
        intake = settings().intake
        message = _json(await request.body(), "SNS")
        verified = await run_in_threadpool(
            sns.verify, message, topic_arns=intake.sns_topic_arns, cert_hosts=intake.sns_cert_hosts
        )
        kind = verified["Type"]
        if kind == "SubscriptionConfirmation":
            await run_in_threadpool(sns.confirm_subscription, verified, intake.sns_cert_hosts)
            log.info("SNS subscription confirmed for %s", verified["TopicArn"])
            return JSONResponse({"confirmed": verified["TopicArn"]})
        if kind == "UnsubscribeConfirmation":
            return JSONResponse({"unsubscribed": verified["TopicArn"]})
        return await _accept("ses", dict(verified))

    return await _guarded("ses", handle)


@router.post("/sendgrid")
async def sendgrid_events(request: Request) -> JSONResponse:
    """SendGrid's signed event webhook (an array of events)."""

    async def handle() -> JSONResponse:
        intake = settings().intake
        body = await request.body()
        sendgrid.verify(
            body,
            request.headers.get(sendgrid.SIGNATURE_HEADER),
            request.headers.get(sendgrid.TIMESTAMP_HEADER),
            intake.sendgrid_verification_key,
            now=time.time(),
            max_age=intake.webhook_max_age,
        )
        return await _accept("sendgrid", _json(body, "SendGrid"))

    return await _guarded("sendgrid", handle)


@router.post("/mailgun")
async def mailgun_events(request: Request) -> JSONResponse:
    """Mailgun webhooks (JSON with `signature` and `event-data`)."""

    async def handle() -> JSONResponse:
        intake = settings().intake
        payload = _json(await request.body(), "Mailgun")

        def check() -> None:  # a Redis round trip for the token: off the event loop
            mailgun.verify(
                payload,
                intake.mailgun_signing_key,
                now=time.time(),
                max_age=intake.webhook_max_age,
                tokens=_tokens(),
            )

        return await _accept("mailgun", payload, check)

    return await _guarded("mailgun", handle)


@router.post("/postmark")
async def postmark_events(request: Request) -> JSONResponse:
    """Postmark webhooks, authenticated by the basic auth in the webhook URL."""

    async def handle() -> JSONResponse:
        intake = settings().intake
        postmark.verify(
            request.headers.get("authorization"), intake.postmark_user, intake.postmark_password
        )
        return await _accept("postmark", _json(await request.body(), "Postmark"))

    return await _guarded("postmark", handle)
