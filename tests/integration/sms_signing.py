"""SMS gateway requests signed as each gateway documents it, with secrets made here."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from bounce_worker.http.webhooks import twilio, vonage


def twilio_form(url: str, token: str, fields: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    body = urlencode(fields).encode()
    sig = twilio.signature(token, url, list(fields.items()))
    headers = {"X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"}
    return body, headers


def vonage_signed_params(
    secret: str, fields: dict[str, str], method: str = "md5hash", timestamp: int | None = None
) -> dict[str, str]:
    """The SMS API's `sig` scheme: the signed fields plus `timestamp`, `nonce` and `sig`."""
    params = dict(fields)
    params["timestamp"] = str(int(time.time()) if timestamp is None else timestamp)
    params["nonce"] = uuid.uuid4().hex
    params["sig"] = vonage.sig(secret, params, method)
    return params


def vonage_jwt(secret: str, body: bytes, iat: int | None = None) -> dict[str, str]:
    claims: dict[str, Any] = {
        "iat": int(time.time()) if iat is None else iat,
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": "abcd1234",
        "application_id": str(uuid.uuid4()),
    }
    return {
        "Authorization": f"Bearer {vonage.jwt_token(secret, claims)}",
        "Content-Type": "application/json",
    }


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def dumps(payload: object) -> bytes:
    return json.dumps(payload).encode()
