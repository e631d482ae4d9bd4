"""Mailgun: HMAC-SHA256 of timestamp + token under the webhook signing key; the timestamp
must be fresh and each token is accepted once (Mailgun's documented replay protection)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from bounce_worker.http.webhooks.refusal import forbidden, not_configured, unauthenticated
from bounce_worker.http.webhooks.replay import TokenStore


def verify(payload: Any, key: str | None, *, now: float, max_age: int, tokens: TokenStore) -> None:
    if not key:
        raise not_configured("mailgun", "BOUNCE_WORKER_MAILGUN_SIGNING_KEY")
    signature = payload.get("signature") if isinstance(payload, Mapping) else None
    if not isinstance(signature, Mapping):
        raise unauthenticated("missing_signature", "Mailgun payload has no 'signature' object")
    timestamp = str(signature.get("timestamp") or "")
    token = str(signature.get("token") or "")
    given = str(signature.get("signature") or "")
    if not (timestamp and token and given):
        raise unauthenticated(
            "missing_signature", "Mailgun signature lacks timestamp, token or signature"
        )
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise unauthenticated("bad_signature", "Mailgun signature does not match")
    try:
        age = now - float(timestamp)
    except ValueError:
        raise unauthenticated("bad_timestamp", "Mailgun timestamp is not a number") from None
    if abs(age) > max_age:
        raise forbidden("stale", f"Mailgun timestamp is {int(age)} s old (limit {max_age} s)")
    if not tokens.first_use(f"mailgun:{token}", max_age * 2):
        raise forbidden("replayed", "Mailgun token was already used")
