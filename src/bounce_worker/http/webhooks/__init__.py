"""Routes of the `webhooks` entry point; mounted by bounce_worker.http.app under /webhooks.

Each route checks its provider's documented authentication on the exact bytes received,
and only then publishes the payload (task `bounce_worker.ingest_webhook`) for a worker to
parse and apply. A refused request: 401/403 with a one-line reason, counted in
`bounce_worker_webhook_refusals_total`, and nothing queued.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.http.publish import Outgoing, publisher
from bounce_worker.http.webhooks import infobip, mailgun, postmark, sendgrid, sns, twilio, vonage
from bounce_worker.http.webhooks.refusal import Refused, unauthenticated
from bounce_worker.observability import metrics

router = APIRouter()
log = logging.getLogger("bounce_worker.webhooks")


def _json(body: bytes, provider: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise unauthenticated("malformed", f"{provider} body is not JSON") from None


async def _accept(provider: str, payload: Any, once: tuple[str, int] | None = None) -> JSONResponse:
    """Queue the payload through the coalescing publisher (no thread hop of its own); 202
    once the broker has it. `once`: a token the message is sent with only on first use."""
    from bounce_worker.tasks import ingest_webhook

    # Flower shows the provider; the payload is in the message (and the worker's log).
    item = Outgoing(ingest_webhook, [provider, payload], f"({provider!r}, {{...}})", once)
    if once is not None:
        item.replayed = mailgun.replayed()
    task_id = await publisher().send(item)
    metrics.webhook_accepted(provider)
    return JSONResponse({"queued": task_id}, status_code=202)


async def _accept_sms(gateway: str, payload: Any, check: Callable[[], None] | None = None) -> str:
    """Publish an SMS gateway's webhook (task `bounce_worker.ingest_sms`) with the time it
    was received: gateways' reports often carry no time of their own. `check`, a blocking
    verification, runs in a thread first."""
    from bounce_worker.tasks import ingest_sms

    received_at = utcnow().isoformat().replace("+00:00", "Z")
    if check is not None:
        await run_in_threadpool(check)
    item = Outgoing(ingest_sms, [gateway, payload, received_at], f"({gateway!r}, {{...}})")
    task_id = await publisher().send(item)
    metrics.webhook_accepted(gateway)
    return task_id


def _form(body: bytes, provider: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise unauthenticated("malformed", f"{provider} body is not a UTF-8 form") from None


def _first(pairs: list[tuple[str, str]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _signed_urls(request: Request) -> list[str]:
    """The URL the gateway requested (PUBLIC_URL's base with this path and query, else the
    URL as received), and the same with the default port written out or left off."""
    public = settings().intake.public_url
    url = str(request.url)
    if public:
        query = request.url.query
        url = public + request.url.path + (f"?{query}" if query else "")
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if default is None or not host:
        return [url]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    bare = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}"))
    if parts.port not in (None, default):
        return [url]
    return list(dict.fromkeys([url, bare, with_port]))


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
        check = functools.partial(
            sns.verify, message, topic_arns=intake.sns_topic_arns, cert_hosts=intake.sns_cert_hosts
        )
        # The certificate is fetched once per process (a thread, off the event loop); once
        # cached, the check is a few RSA operations, done here.
        verified = check() if sns.has_certificate(message) else await run_in_threadpool(check)
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
        once = mailgun.verify(
            payload, intake.mailgun_signing_key, now=time.time(), max_age=intake.webhook_max_age
        )
        return await _accept("mailgun", payload, once)

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


# SMS gateways (docs/sms.md): delivery reports and inbound messages on one route each; the
# parser tells them apart. Each answers 200 once the broker has the payload (Vonage and
# Twilio retry anything else), and refuses like the ESP routes above.

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@router.post("/twilio")
async def twilio_events(request: Request) -> Response:
    """Twilio status callbacks and incoming messages (form-encoded), X-Twilio-Signature."""

    async def handle() -> Response:
        intake = settings().intake
        pairs = _form(await request.body(), "Twilio")
        twilio.verify(
            intake.twilio_auth_token,
            request.headers.get(twilio.SIGNATURE_HEADER),
            _signed_urls(request),
            pairs,
        )
        await _accept_sms("twilio", _first(pairs))
        # An empty TwiML answer: no auto-reply from us (Twilio's own opt-out reply stands).
        return Response(TWIML_EMPTY, media_type="text/xml")

    return await _guarded("twilio", handle)


@router.api_route("/vonage", methods=["GET", "POST"])
async def vonage_events(request: Request) -> JSONResponse:
    """Vonage SMS API delivery receipts and inbound messages (GET query, form or JSON),
    signed with a bearer JWT (signed webhooks) or the `sig` parameter."""

    async def handle() -> JSONResponse:
        intake = settings().intake
        body = await request.body()
        if request.method == "GET":
            payload: Any = _first(list(request.query_params.multi_items()))
        elif "json" in request.headers.get("content-type", ""):
            payload = _json(body, "Vonage")
            if not isinstance(payload, dict):
                raise unauthenticated("malformed", "Vonage body is not a JSON object")
        else:
            payload = _first(_form(body, "Vonage"))
        authorization = request.headers.get("authorization") or ""
        if authorization.lower().startswith("bearer "):
            vonage.verify_jwt(
                authorization,
                body,
                intake.vonage_signature_secret,
                now=time.time(),
                max_age=intake.webhook_max_age,
            )
        else:
            vonage.verify_sig(
                {str(k): "" if v is None else str(v) for k, v in payload.items()},
                intake.vonage_signature_secret,
                intake.vonage_signature_method,
                now=time.time(),
                max_age=intake.webhook_max_age,
            )
        return JSONResponse({"queued": await _accept_sms("vonage", payload)})

    return await _guarded("vonage", handle)


@router.post("/infobip")
async def infobip_events(request: Request) -> JSONResponse:
    """Infobip delivery reports and inbound messages (JSON `results`), basic auth."""

    async def handle() -> JSONResponse:
        intake = settings().intake
        infobip.verify(
            request.headers.get("authorization"), intake.infobip_user, intake.infobip_password
        )
        payload = _json(await request.body(), "Infobip")
        return JSONResponse({"queued": await _accept_sms("infobip", payload)})

    return await _guarded("infobip", handle)
