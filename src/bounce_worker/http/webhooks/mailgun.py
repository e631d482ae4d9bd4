"""Mailgun: HMAC-SHA256 of timestamp + token under the webhook signing key; the timestamp
must be fresh and each token is accepted once (Mailgun's documented replay protection).
`verify` checks the signature and the age and names the token; the publisher claims it
(one round trip for a whole batch of requests) and refuses a reused one with `replayed()`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from bounce_worker.http.webhooks.refusal import Refused, forbidden, not_configured, unauthenticated


def replayed() -> Refused:
    return forbidden("replayed", "Mailgun token was already used")


def verify(payload: Any, key: str | None, *, now: float, max_age: int) -> tuple[str, int]:
    """The token to claim once, and for how long, when the signature checks out."""
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
    # Remembered for twice the age limit: past it, the timestamp alone refuses a replay.
    return f"mailgun:{token}", max_age * 2
