"""`bounce-worker lmtp` as the MTA talks to it: a bounce to a valid VERP address is queued
(250) and blocks the token's recipient; other domains are refused at RCPT; with the broker
down the mail is deferred (451) so the MTA keeps it."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bounce_worker.domain import verp
from tests.conftest import REPO, Worker, set_env, wait_until
from tests.integration.http_server import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "parsers" / "fixtures"
KEY, DOMAIN = "test-verp-key-lmtp-of-32-bytes-or-more", "verp.sender.example"


class Lmtp:
    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "bounce_worker.cli", "lmtp", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                smtplib.LMTP("127.0.0.1", self.port).quit()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("lmtp did not start")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=20)


@pytest.fixture
def lmtp_env(worker_env: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    set_env(monkeypatch, verp_domain=DOMAIN, verp_key=KEY)
    yield worker_env


def test_lmtp_queues_bounces_for_the_verp_domain(lmtp_env: Engine) -> None:
    dsn = (FIXTURES / "dsn_postfix_org_list.eml").read_bytes()
    alice = verp.encode("alice@example.org", "org-a", None, key=KEY, domain=DOMAIN)
    server = Lmtp()
    try:
        with smtplib.LMTP("127.0.0.1", server.port) as client:
            client.ehlo_or_helo_if_needed()
            assert client.mail("<>")[0] == 250
            assert client.rcpt("postmaster@elsewhere.example")[0] == 550
            assert client.rcpt(alice)[0] == 250
            code, reply = client.data(dsn)
            assert code == 250 and b"queued" in reply, reply
    finally:
        server.stop()
    worker = Worker().start()
    try:

        def state() -> set[tuple[object, ...]]:
            with lmtp_env.connect() as conn:
                return {tuple(r) for r in conn.execute(text(
                    "SELECT address, state FROM entries WHERE state <> 'active'"))}  # fmt: skip

        wait_until(lambda: state() == {("alice@example.org", "blocked")}, timeout=60)
    finally:
        worker.stop()


def test_lmtp_defers_while_the_broker_is_down(lmtp_env: Engine) -> None:
    env = {**os.environ, "BOUNCE_WORKER_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    server = Lmtp(env)
    try:
        with smtplib.LMTP("127.0.0.1", server.port) as client:
            client.ehlo_or_helo_if_needed()
            client.mail("<>")
            client.rcpt(verp.encode("a@example.org", "o", None, key=KEY, domain=DOMAIN))
            code, reply = client.data(b"Subject: x\r\n\r\nbody\r\n")
            assert code == 451 and b"broker unavailable" in reply
    finally:
        server.stop()
