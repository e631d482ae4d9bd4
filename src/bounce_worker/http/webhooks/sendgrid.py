"""SendGrid signed event webhook: ECDSA (P-256, SHA-256) over timestamp + raw body, with the
verification key SendGrid shows (base64 DER public key); the timestamp must be fresh."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bounce_worker.http.webhooks.refusal import forbidden, not_configured, unauthenticated

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


@lru_cache(maxsize=4)
def public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The key as SendGrid shows it (base64 of DER) or as PEM; a bad key is a ConfigError."""
    from bounce_worker.config import ConfigError

    try:
        if "BEGIN PUBLIC KEY" in text:
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text.strip()))
    except (ValueError, binascii.Error):
        raise ConfigError(
            "BOUNCE_WORKER_SENDGRID_VERIFICATION_KEY is not a public key (base64 DER or PEM)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ConfigError("BOUNCE_WORKER_SENDGRID_VERIFICATION_KEY is not an ECDSA key")
    return key


def verify(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    key: str | None,
    *,
    now: float,
    max_age: int,
) -> None:
    if not key:
        raise not_configured("sendgrid", "BOUNCE_WORKER_SENDGRID_VERIFICATION_KEY")
    if not signature or not timestamp:
        raise unauthenticated(
            "missing_signature", f"SendGrid request lacks {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}"
        )
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except binascii.Error:
        raise unauthenticated("bad_signature", "SendGrid signature is not base64") from None
    try:
        public_key(key).verify(raw_signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise unauthenticated("bad_signature", "SendGrid signature does not match") from None
    try:
        age = now - float(timestamp)
    except ValueError:
        raise unauthenticated("bad_timestamp", "SendGrid timestamp is not a number") from None
    if abs(age) > max_age:
        raise forbidden("stale", f"SendGrid timestamp is {int(age)} s old (limit {max_age} s)")
