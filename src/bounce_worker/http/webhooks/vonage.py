"""Vonage: the two documented ways its webhooks are signed, both with the account's
signature secret (Dashboard > API settings; not the API secret).

- Signed webhooks (https://developer.vonage.com/en/getting-started/concepts/webhooks#signed-webhooks):
  `Authorization: Bearer <JWT>`, HS256 with the signature secret; its claims carry `iat`
  and `payload_hash`, the SHA-256 (hex) of the request body.
- SMS API message signing (https://developer.vonage.com/en/getting-started/concepts/signing-messages):
  a `sig` parameter beside the others. Every other parameter, sorted by name, as
  `&name=value` with `&` and `=` in values replaced by `_`; then the MD5 of that string
  followed by the secret ("MD5 hash", Vonage's default), or its HMAC (md5, sha1, sha256,
  sha512) keyed with the secret, in hex. The signed `timestamp` must be fresh.

The algorithm is the one chosen in the dashboard: BOUNCE_WORKER_VONAGE_SIGNATURE_METHOD.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping

from bounce_worker.http.webhooks.refusal import forbidden, not_configured, unauthenticated

METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")


def sig(secret: str, params: Mapping[str, str], method: str = "md5hash") -> str:
    """The `sig` Vonage computes over the other parameters (tests sign with it too)."""
    text = "".join(
        f"&{name}={str(params[name]).replace('&', '_').replace('=', '_')}"
        for name in sorted(params)
        if name != "sig"
    )
    if method == "md5hash":
        return hashlib.md5((text + secret).encode("utf-8")).hexdigest()
    return hmac.new(secret.encode(), text.encode("utf-8"), method).hexdigest()


def verify_sig(
    params: Mapping[str, str], secret: str | None, method: str, *, now: float, max_age: int
) -> None:
    if not secret:
        raise not_configured("vonage", "BOUNCE_WORKER_VONAGE_SIGNATURE_SECRET")
    given = str(params.get("sig") or "").strip().lower()
    if not given:
        raise unauthenticated(
            "missing_signature", "Vonage request has neither a bearer JWT nor a 'sig' parameter"
        )
    if not hmac.compare_digest(sig(secret, params, method).encode(), given.encode()):
        raise unauthenticated("bad_signature", "Vonage signature does not match")
    try:
        age = now - float(str(params.get("timestamp", "")))
    except ValueError:
        raise unauthenticated("bad_timestamp", "Vonage signed 'timestamp' is missing") from None
    if abs(age) > max_age:
        raise forbidden("stale", f"Vonage timestamp is {int(age)} s old (limit {max_age} s)")


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_token(secret: str, claims: Mapping[str, object]) -> str:
    """An HS256 JWT as Vonage makes them (tests sign with it)."""

    def enc(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = enc(json.dumps(dict(claims)).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{enc(mac)}"


def verify_jwt(
    authorization: str, body: bytes, secret: str | None, *, now: float, max_age: int
) -> None:
    if not secret:
        raise not_configured("vonage", "BOUNCE_WORKER_VONAGE_SIGNATURE_SECRET")
    token = authorization.partition(" ")[2].strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise unauthenticated("bad_signature", "Vonage bearer token is not a JWT")
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
        mac = _b64url(parts[2])
    except (ValueError, binascii.Error):
        raise unauthenticated("bad_signature", "Vonage JWT is not valid base64url JSON") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise unauthenticated("bad_signature", "Vonage JWT must be HS256")
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.digest(), mac):
        raise unauthenticated("bad_signature", "Vonage JWT signature does not match")
    if not isinstance(claims, dict):
        raise unauthenticated("bad_signature", "Vonage JWT claims are not an object")
    digest = hashlib.sha256(body).hexdigest()
    if body and not hmac.compare_digest(
        str(claims.get("payload_hash", "")).lower().encode(), digest.encode()
    ):
        raise unauthenticated("bad_payload_hash", "Vonage JWT payload_hash does not match the body")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise unauthenticated("bad_timestamp", "Vonage JWT has no 'iat'")
    if abs(now - iat) > max_age:
        age = int(now - iat)
        raise forbidden("stale", f"Vonage JWT was issued {age} s ago (limit {max_age} s)")
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and now > exp:
        raise forbidden("stale", "Vonage JWT has expired")
