"""Twilio: `X-Twilio-Signature`, the base64 HMAC-SHA1, keyed with the account's auth token,
of the full URL Twilio requested followed by every POST parameter, sorted by name, as name
and value with no separators (https://www.twilio.com/docs/usage/webhooks/webhooks-security).

The URL is the one Twilio called: behind a proxy or TLS terminator set
BOUNCE_WORKER_PUBLIC_URL so the path and query are appended to the public base, not to what
the server sees. Twilio signs no timestamp: a replayed callback is harmless because each
event's id (the MessageSid and status) is applied once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from bounce_worker.http.webhooks.refusal import not_configured, unauthenticated

SIGNATURE_HEADER = "X-Twilio-Signature"


def signature(token: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    """The signature Twilio computes (also used by tests to sign their requests)."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify(
    token: str | None, given: str | None, urls: Sequence[str], params: Sequence[tuple[str, str]]
) -> None:
    """`urls`: the URL as requested, plus its spelling with/without the default port (Twilio
    signs the URL as configured, and proxies differ on keeping ':443')."""
    if not token:
        raise not_configured("twilio", "BOUNCE_WORKER_TWILIO_AUTH_TOKEN")
    if not given:
        raise unauthenticated("missing_signature", f"Twilio request lacks {SIGNATURE_HEADER}")
    for url in urls:
        if hmac.compare_digest(signature(token, url, params).encode(), given.strip().encode()):
            return
    raise unauthenticated("bad_signature", "Twilio signature does not match")
