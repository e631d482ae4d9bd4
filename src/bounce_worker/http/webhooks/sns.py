"""Amazon SNS (carrying SES notifications): the message signature (SignatureVersion 1:
SHA1withRSA, 2: SHA256withRSA) checked with the signing certificate, fetched only from an
SNS host over https; the topic must be on the allow-list; a SubscriptionConfirmation is
confirmed by visiting its SubscribeURL (same host rule). AWS: "Verifying the signatures of
Amazon SNS messages"."""

from __future__ import annotations

import base64
import binascii
import re
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bounce_worker.http.webhooks.refusal import Refused, forbidden, not_configured, unauthenticated

# The fields signed, in order, per message type (absent optional fields are skipped).
_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_MAX_CERT_BYTES = 64 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would lead off the checked host: treat it as the failure it is.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)
_certs: dict[str, x509.Certificate] = {}
_certs_lock = threading.Lock()


def check_url(url: str, hosts: str, what: str) -> None:
    """https on a host matching `hosts` in full; plain http only for a loopback host that the
    (test) setting names explicitly."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not re.fullmatch(hosts, parts.netloc or ""):
        raise forbidden("cert_url", f"SNS {what} host {parts.netloc[:80]!r} is not an SNS host")
    if parts.scheme != "https" and not (parts.scheme == "http" and host in _LOOPBACK):
        raise forbidden("cert_url", f"SNS {what} must be https")


def verify(message: Any, *, topic_arns: tuple[str, ...], cert_hosts: str) -> Mapping[str, Any]:
    """The verified envelope, or Refused. Fetches (and caches) the signing certificate."""
    if not topic_arns:
        raise not_configured("ses", "BOUNCE_WORKER_SNS_TOPIC_ARNS")
    if not isinstance(message, Mapping):
        raise unauthenticated("malformed", "SNS message must be a JSON object")
    kind = message.get("Type")
    if kind not in _SIGNED:
        raise unauthenticated("malformed", f"SNS message Type {str(kind)[:40]!r} is not known")
    version = str(message.get("SignatureVersion", ""))
    if version not in _HASHES:
        raise unauthenticated("bad_signature", f"SNS SignatureVersion {version[:8]!r} unsupported")
    cert_url = message.get("SigningCertURL") or message.get("SigningCertUrl")
    if not isinstance(cert_url, str) or not cert_url:
        raise unauthenticated("missing_signature", "SNS message has no SigningCertURL")
    check_url(cert_url, cert_hosts, "certificate URL")
    if not urlsplit(cert_url).path.endswith(".pem"):
        raise forbidden("cert_url", "SNS certificate URL does not name a .pem file")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except binascii.Error:
        raise unauthenticated("bad_signature", "SNS Signature is not base64") from None
    signed = _string_to_sign(message, _SIGNED[kind])
    key = certificate(cert_url).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise unauthenticated("bad_signature", "SNS signing certificate has no RSA key")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), _HASHES[version]())
    except InvalidSignature:
        raise unauthenticated("bad_signature", "SNS signature does not match") from None
    if message.get("TopicArn") not in topic_arns:
        raise forbidden("topic", f"SNS topic {str(message.get('TopicArn'))[:120]!r} is not allowed")
    return message


def _string_to_sign(message: Mapping[str, Any], fields: tuple[str, ...]) -> bytes:
    out = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue
            raise unauthenticated("malformed", f"SNS message lacks {name}")
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode()


def has_certificate(message: Any) -> bool:
    """Whether the certificate the message names was fetched already (no I/O to verify)."""
    if not isinstance(message, Mapping):
        return True  # verify refuses it without fetching anything
    url = message.get("SigningCertURL") or message.get("SigningCertUrl")
    with _certs_lock:
        return not isinstance(url, str) or url in _certs


def certificate(url: str) -> x509.Certificate:
    """The PEM certificate at `url` (already host-checked), fetched once per process."""
    with _certs_lock:
        cached = _certs.get(url)
    if cached is not None:
        return cached
    try:
        with _OPENER.open(url, timeout=10) as response:
            pem = response.read(_MAX_CERT_BYTES + 1)
    except OSError as exc:
        raise Refused(503, "cert_fetch", f"SNS certificate could not be fetched: {exc}") from None
    try:
        cert = x509.load_pem_x509_certificate(pem[:_MAX_CERT_BYTES])
    except ValueError:
        raise unauthenticated("cert_fetch", "SNS certificate URL did not serve a PEM") from None
    with _certs_lock:
        _certs[url] = cert
    return cert


def confirm_subscription(message: Mapping[str, Any], cert_hosts: str) -> None:
    """Visit the SubscribeURL of a verified SubscriptionConfirmation (AWS's documented way)."""
    url = message.get("SubscribeURL")
    if not isinstance(url, str) or not url:
        raise unauthenticated("malformed", "SNS SubscriptionConfirmation has no SubscribeURL")
    check_url(url, cert_hosts, "SubscribeURL")
    try:
        with _OPENER.open(url, timeout=10) as response:
            response.read(64 * 1024)
    except OSError as exc:
        raise Refused(502, "confirm_failed", f"SNS subscription not confirmed: {exc}") from None
