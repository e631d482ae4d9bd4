"""Requests signed the way each provider signs them, with keys made here (never real ones).
Used by the webhook tests and by bench/intake.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID


def mailgun_body(
    key: str, event_data: dict[str, Any], *, timestamp: int | None = None, token: str | None = None
) -> bytes:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    token = token or uuid.uuid4().hex
    sig = hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {"signature": {"timestamp": ts, "token": token, "signature": sig}, "event-data": event_data}
    ).encode()


def mailgun_failed(recipient: str, org: str = "acme") -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "timestamp": time.time() - 5,
        "event": "failed",
        "severity": "permanent",
        "recipient": recipient,
        "delivery-status": {"code": 550, "enhanced-code": "5.1.1", "message": "No such user"},
        "user-variables": {"organization": org},
    }


class SendGridSigner:
    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_b64 = base64.b64encode(der).decode()  # as SendGrid shows the key

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = self.private.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
            "Content-Type": "application/json",
        }


def sendgrid_bounce(recipient: str, org: str = "acme") -> dict[str, Any]:
    return {
        "email": recipient,
        "timestamp": int(time.time()) - 5,
        "event": "bounce",
        "sg_event_id": uuid.uuid4().hex,
        "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
        "status": "5.1.1",
        "type": "bounce",
        "organization": org,
    }


def postmark_bounce(recipient: str, org: str = "acme") -> dict[str, Any]:
    return {
        "RecordType": "Bounce",
        "ID": int(uuid.uuid4().int % 10**15),
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": str(uuid.uuid4()),
        "Metadata": {"organization": org},
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": recipient,
        "BouncedAt": datetime.now(UTC).isoformat(),
    }


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class SnsSigner:
    """An RSA key and a self-signed certificate standing in for SNS's signing certificate."""

    def __init__(self, cert_url: str) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.now(UTC)
        self.cert_pem = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        self.cert_url = cert_url

    def sign(self, message: dict[str, Any], version: str = "2") -> dict[str, Any]:
        fields = (
            ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
            if message["Type"] == "Notification"
            else ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
        )
        text = "".join(f"{k}\n{message[k]}\n" for k in fields if k in message)
        digest = hashes.SHA256() if version == "2" else hashes.SHA1()
        signature = self.key.sign(text.encode(), padding.PKCS1v15(), digest)
        return {
            **message,
            "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode(),
            "SigningCertURL": self.cert_url,
        }


def ses_notification(topic: str, recipient: str, org: str = "acme") -> dict[str, Any]:
    ses = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "feedbackId": uuid.uuid4().hex,
        },
        "mail": {
            "messageId": uuid.uuid4().hex,
            "destination": [recipient],
            "tags": {"organization": [org]},
        },
    }
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic,
        "Timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "Message": json.dumps(ses),
    }
