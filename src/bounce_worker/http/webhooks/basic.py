"""HTTP basic auth as a webhook credential (Postmark's URL credentials, Infobip's BASIC
security settings), compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac

from bounce_worker.http.webhooks.refusal import unauthenticated


def check(authorization: str | None, user: str, password: str, provider: str) -> None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise unauthenticated("missing_credentials", f"{provider} webhook needs basic auth")
    try:
        given_user, sep, given_password = (
            base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        raise unauthenticated("bad_credentials", "basic auth header is not valid") from None
    # Both compared, always: no early exit that would tell which half was wrong.
    ok_user = hmac.compare_digest(given_user.encode(), user.encode())
    ok_password = hmac.compare_digest(given_password.encode(), password.encode())
    if not (sep and ok_user and ok_password):
        raise unauthenticated("bad_credentials", f"{provider} credentials do not match")
