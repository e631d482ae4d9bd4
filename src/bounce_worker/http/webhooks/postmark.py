"""Postmark: HTTP basic auth with the credentials you put in the webhook URL
(https://user:password@host/webhooks/postmark), compared in constant time."""

from __future__ import annotations

from bounce_worker.http.webhooks import basic
from bounce_worker.http.webhooks.refusal import not_configured


def verify(authorization: str | None, user: str | None, password: str | None) -> None:
    if not user or not password:
        raise not_configured(
            "postmark", "BOUNCE_WORKER_POSTMARK_USER and BOUNCE_WORKER_POSTMARK_PASSWORD"
        )
    basic.check(authorization, user, password, "Postmark")
