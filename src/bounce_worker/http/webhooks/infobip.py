"""Infobip: the BASIC security settings of a Subscriptions API notification profile
(https://www.infobip.com/docs/api/platform/subscriptions-api/create-security-settings):
Infobip sends `Authorization: Basic` with the username and password you gave it. For
per-message notifyUrls, put the same credentials in the URL (https://user:pass@host/...)."""

from __future__ import annotations

from bounce_worker.http.webhooks import basic
from bounce_worker.http.webhooks.refusal import not_configured


def verify(authorization: str | None, user: str | None, password: str | None) -> None:
    if not user or not password:
        raise not_configured(
            "infobip", "BOUNCE_WORKER_INFOBIP_USER and BOUNCE_WORKER_INFOBIP_PASSWORD"
        )
    basic.check(authorization, user, password, "Infobip")
