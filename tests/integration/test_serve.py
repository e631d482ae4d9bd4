"""`bounce-worker serve`: the real server process answers, and a publish the broker does not
accept comes back as BrokerUnavailable (503 at the routes) instead of hanging in retries."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from celery import Celery
from sqlalchemy import Engine

from bounce_worker.http.publish import BrokerUnavailable, publish
from tests.conftest import set_env
from tests.integration.http_server import Server, free_port


@pytest.fixture
def server(worker_env: Engine) -> Iterator[Server]:
    s = Server().start()
    yield s
    s.stop()


def test_healthz_and_openapi_from_the_real_process(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert spec["info"]["title"] == "bounce-worker"


def test_body_over_the_limit_is_413_before_any_route(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, max_message_bytes="2048")
    s = Server().start()
    try:
        response = httpx.post(f"{s.url}/webhooks/anything", content=b"x" * 4096)
        assert response.status_code == 413
        assert "larger than 2048 bytes" in response.json()["error"]
        # Chunked (no Content-Length), to a route whose body FastAPI parses: it turned the
        # limit's error into 400 "There was an error parsing the body".
        chunked = httpx.post(f"{s.url}/v1/check", content=iter([b"x" * 1024] * 4),
                             headers={"Content-Type": "application/json"})  # fmt: skip
        assert chunked.status_code == 413, chunked.text
        assert chunked.json() == {"error": "request body larger than 2048 bytes"}
    finally:
        s.stop()


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_publish_to_a_dead_broker_fails_at_once(scheme: str) -> None:
    dead = Celery("dead", broker=f"{scheme}://127.0.0.1:{free_port()}//")
    dead.conf.broker_connection_timeout = 2

    @dead.task(name="bounce_worker.process_event")
    def process_event(payload: object) -> None:  # pragma: no cover - never runs
        pass

    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        publish(process_event, [{"event_id": "x"}])
    assert time.monotonic() - started < 10
