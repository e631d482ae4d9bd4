"""POST /webhooks/{ses,sendgrid,mailgun,postmark} on the real `serve` process: a correctly
signed request reaches a real worker and changes state; every forged, stale or replayed
one is refused with a one-line reason, counted, and queues nothing."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.conftest import Worker, set_env, wait_until
from tests.integration import webhook_observe
from tests.integration.http_server import Server
from tests.integration.webhook_signing import (
    SendGridSigner,
    SnsSigner,
    basic_auth,
    mailgun_body,
    mailgun_failed,
    postmark_bounce,
    sendgrid_bounce,
    ses_notification,
)

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-feedback"
MAILGUN_KEY = "key-" + uuid.uuid4().hex


class FakeSns:
    """Serves the test's signing certificate and records SubscribeURL visits."""

    def __init__(self) -> None:
        self.cert = b""
        self.confirmed: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.endswith(".pem"):
                    body = outer.cert
                else:
                    outer.confirmed.append(self.path)
                    body = b"<ConfirmSubscriptionResponse/>"
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def intake(worker_env: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict]:
    sns = FakeSns()
    signer = SnsSigner(f"{sns.base}/SimpleNotificationService-test.pem")
    sns.cert = signer.cert_pem
    sendgrid = SendGridSigner()
    prom = tmp_path / "prom"
    prom.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(prom))
    set_env(
        monkeypatch,
        mailgun_signing_key=MAILGUN_KEY,
        sendgrid_verification_key=sendgrid.public_b64,
        postmark_user="postmark",
        postmark_password="test-pw-postmark",
        sns_topic_arns=f"arn:aws:sns:eu-west-1:1:other,{TOPIC}",
        # Test only: the local certificate host stands in for sns.<region>.amazonaws.com.
        sns_cert_hosts=r"127\.0\.0\.1:\d+",
    )
    server = Server().start()
    yield {
        "server": server,
        "sns": sns,
        "signer": signer,
        "sendgrid": sendgrid,
        "prom": prom,
        "engine": worker_env,
    }
    server.stop()
    sns.server.shutdown()


def test_signed_webhooks_reach_the_worker_and_block(intake: dict) -> None:
    url, engine = intake["server"].url, intake["engine"]
    sns, signer, sendgrid = intake["sns"], intake["signer"], intake["sendgrid"]

    # SES: the subscription is confirmed first (SNS's handshake), then a notification.
    confirm = signer.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": TOPIC,
            "Token": "tok",
            "Message": "You have chosen to subscribe",
            "SubscribeURL": f"{sns.base}/?Action=ConfirmSubscription&Token=tok",
            "Timestamp": "2026-12-01T10:00:00Z",
        }
    )
    r = httpx.post(f"{url}/webhooks/ses", content=json.dumps(confirm))
    assert r.status_code == 200, r.text
    assert sns.confirmed == ["/?Action=ConfirmSubscription&Token=tok"]

    posts = [
        (
            "ses",
            json.dumps(signer.sign(ses_notification(TOPIC, "ses@example.org"), "1")).encode(),
            {},
        ),
        ("mailgun", mailgun_body(MAILGUN_KEY, mailgun_failed("mailgun@example.org")), {}),
        (
            "postmark",
            json.dumps(postmark_bounce("postmark@example.org")).encode(),
            basic_auth("postmark", "test-pw-postmark"),
        ),
    ]
    body = json.dumps([sendgrid_bounce("sendgrid@example.org")]).encode()
    posts.append(("sendgrid", body, sendgrid.headers(body)))
    for provider, content, headers in posts:
        r = httpx.post(f"{url}/webhooks/{provider}", content=content, headers=headers)
        assert r.status_code == 202, (provider, r.text)
    assert webhook_observe.queued() == 4

    worker = Worker().start()
    try:

        def blocked() -> set[str]:
            with engine.connect() as conn:
                return set(
                    conn.execute(
                        text(
                            "SELECT address FROM entries WHERE state = 'blocked' AND scope = 'global'"
                        )
                    ).scalars()
                )

        want = {f"{p}@example.org" for p in ("ses", "mailgun", "postmark", "sendgrid")}
        wait_until(lambda: blocked() == want, timeout=60)
    finally:
        worker.stop()


def test_forged_stale_and_replayed_webhooks_queue_nothing(intake: dict) -> None:
    url, sns, signer, sendgrid = (intake[k] for k in ("server", "sns", "signer", "sendgrid"))
    url = url.url
    other_sendgrid = SendGridSigner()
    now = int(time.time())
    mg_event = mailgun_failed("victim@example.org")
    replayed = mailgun_body(
        MAILGUN_KEY, mailgun_failed("replayed@example.org"), token="test-token-" + uuid.uuid4().hex
    )
    sg_body = json.dumps([sendgrid_bounce("victim@example.org")]).encode()
    forged_cert = SnsSigner("https://sns.us-east-1.amazonaws.com.evil.example/cert.pem")
    forged_cert_msg = forged_cert.sign(ses_notification(TOPIC, "victim@example.org"))
    attacker_cert = SnsSigner(f"{sns.base}/attacker.pem")  # same host, another key
    cases = [
        ("mailgun", mailgun_body("wrong-key", mg_event), {}, 401, "signature does not match"),
        (
            "mailgun",
            json.dumps(
                {
                    "signature": {"timestamp": "1", "token": "t", "signature": "deadbeef"},
                    "event-data": mg_event,
                }
            ).encode(),
            {},
            401,
            "does not match",
        ),
        ("mailgun", mailgun_body(MAILGUN_KEY, mg_event, timestamp=now - 3600), {}, 403, "old"),
        ("mailgun", replayed, {}, 202, None),
        ("mailgun", replayed, {}, 403, "already used"),
        ("sendgrid", sg_body, other_sendgrid.headers(sg_body), 401, "does not match"),
        ("sendgrid", sg_body, sendgrid.headers(sg_body, timestamp=now - 3600), 403, "old"),
        ("sendgrid", sg_body, {}, 401, "lacks"),
        (
            "postmark",
            json.dumps(postmark_bounce("victim@example.org")).encode(),
            basic_auth("postmark", "guess"),
            401,
            "do not match",
        ),
        (
            "postmark",
            json.dumps(postmark_bounce("victim@example.org")).encode(),
            {},
            401,
            "needs basic auth",
        ),
        ("ses", json.dumps(forged_cert_msg).encode(), {}, 403, "not an SNS host"),
        (
            "ses",
            json.dumps(
                signer.sign({**ses_notification(TOPIC, "victim@example.org")}) | {"Message": "{}"}
            ).encode(),
            {},
            401,
            "signature does not match",
        ),
        (
            "ses",
            json.dumps(
                signer.sign(ses_notification("arn:aws:sns:us-east-1:9:evil", "victim@example.org"))
            ).encode(),
            {},
            403,
            "not allowed",
        ),
        (
            "ses",
            json.dumps(
                {
                    **attacker_cert.sign(ses_notification(TOPIC, "victim@example.org")),
                    "SigningCertURL": signer.cert_url,
                }
            ).encode(),
            {},
            401,
            "does not match",
        ),
        ("ses", b"not json", {}, 401, "not JSON"),
    ]
    for provider, content, headers, status, reason in cases:
        r = httpx.post(f"{url}/webhooks/{provider}", content=content, headers=headers)
        assert r.status_code == status, (provider, reason, r.text)
        if reason:
            error = r.json()["error"]
            assert reason in error and "\n" not in error, (provider, error)
    assert webhook_observe.queued() == 1  # only the first use of the Mailgun token
    refusals = webhook_observe.refusals(intake["prom"])
    assert refusals[("mailgun", "replayed")] == 1
    assert refusals[("mailgun", "stale")] == 1
    assert refusals[("ses", "cert_url")] == 1
    assert refusals[("ses", "topic")] == 1
    assert sum(refusals.values()) == len(cases) - 1

    # A real worker drains the queue: the one accepted post applies, the victim of every
    # refused one has no entry, no history, in PostgreSQL.
    worker = Worker().start()
    try:
        with intake["engine"].connect() as conn:

            def rows() -> set[tuple[object, ...]]:
                found = conn.execute(text("SELECT address, state FROM entries")).all()
                conn.rollback()
                return {tuple(r) for r in found}

            wait_until(lambda: webhook_observe.queued() == 0 and rows() == {("replayed@example.org", "blocked")})
            history = conn.execute(text("SELECT count(*) FROM transitions")).scalar_one()
            assert history == 1
    finally:
        worker.stop()


def test_an_unconfigured_provider_is_closed(worker_env: Engine) -> None:
    server = Server().start()
    try:
        r = httpx.post(
            f"{server.url}/webhooks/mailgun",
            content=mailgun_body("k", mailgun_failed("a@example.org")),
        )
        assert r.status_code == 403
        assert "BOUNCE_WORKER_MAILGUN_SIGNING_KEY" in r.json()["error"]
        assert webhook_observe.queued() == 0
    finally:
        server.stop()
