"""The SMS gateways' request signatures, checked against their documented constructions."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bounce_worker.http.webhooks import infobip, twilio, vonage
from bounce_worker.http.webhooks.refusal import Refused


def test_twilio_documented_example() -> None:
    # The worked example of Twilio's "Validating requests" (webhooks security) page.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert twilio.signature("12345", url, list(params.items())) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    twilio.verify("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", [url], list(params.items()))
    with pytest.raises(Refused) as refused:
        twilio.verify("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", [url + "&x=1"], list(params.items()))
    assert (refused.value.status, refused.value.code) == (401, "bad_signature")
    with pytest.raises(Refused) as refused:
        twilio.verify(None, "x", [url], [])
    assert (refused.value.status, refused.value.code) == (403, "not_configured")


def test_vonage_sig_md5hash_and_hmac() -> None:
    params = {"msisdn": "447700900001", "text": "a&b=c", "timestamp": "1700000000", "sig": "x"}
    # Sorted, `&name=value`, `&` and `=` in values as `_`, `sig` itself left out.
    signed = "&msisdn=447700900001&text=a_b_c&timestamp=1700000000"
    assert vonage.sig("s3cret", params) == hashlib.md5((signed + "s3cret").encode()).hexdigest()
    expected = hmac.new(b"s3cret", signed.encode(), hashlib.sha256).hexdigest()
    assert vonage.sig("s3cret", params, "sha256") == expected
    good = params | {"sig": expected.upper()}
    vonage.verify_sig(good, "s3cret", "sha256", now=1700000010, max_age=300)
    with pytest.raises(Refused) as refused:
        vonage.verify_sig(good, "s3cret", "sha256", now=1700001000, max_age=300)
    assert (refused.value.status, refused.value.code) == (403, "stale")
    with pytest.raises(Refused) as refused:
        vonage.verify_sig(good | {"text": "STOP"}, "s3cret", "sha256", now=1700000010, max_age=300)
    assert (refused.value.status, refused.value.code) == (401, "bad_signature")


def test_vonage_jwt() -> None:
    body = b'{"status":"failed"}'
    claims = {"iat": 1700000000, "payload_hash": hashlib.sha256(body).hexdigest()}
    token = vonage.jwt_token("s3cret", claims)
    vonage.verify_jwt(f"Bearer {token}", body, "s3cret", now=1700000001, max_age=300)
    for auth, data, code in [
        (f"Bearer {token}", b'{"status":"delivered"}', "bad_payload_hash"),
        (f"Bearer {vonage.jwt_token('other', claims)}", body, "bad_signature"),
        ("Bearer not.a-jwt", body, "bad_signature"),
        (f"Bearer {token}x", body, "bad_signature"),
    ]:
        with pytest.raises(Refused) as refused:
            vonage.verify_jwt(auth, data, "s3cret", now=1700000001, max_age=300)
        assert refused.value.code == code, auth
    with pytest.raises(Refused) as refused:
        vonage.verify_jwt(f"Bearer {token}", body, "s3cret", now=1700009999, max_age=300)
    assert refused.value.code == "stale"


def test_infobip_basic_auth() -> None:
    infobip.verify("Basic aW5mb2JpcDpwdw==", "infobip", "pw")  # infobip:pw
    with pytest.raises(Refused) as refused:
        infobip.verify("Basic aW5mb2JpcDp4", "infobip", "pw")
    assert (refused.value.status, refused.value.code) == (401, "bad_credentials")
    with pytest.raises(Refused) as refused:
        infobip.verify(None, None, None)
    assert refused.value.code == "not_configured"
