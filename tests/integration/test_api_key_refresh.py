"""The API key cache off the request path: a cached key is read again in the background
once half its time is gone (a revoked one is then forgotten), and a key new to the process
is verified once, off the event loop, however many requests present it at the same time."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import Engine, update

from bounce_worker import credentials
from bounce_worker.clock import utcnow
from bounce_worker.http.v1 import identity
from bounce_worker.store.models import ApiKeyRow
from tests.conftest import set_env


def test_refresh_due_after_half_the_time_and_a_revoked_key_is_forgotten(
    worker_env: Engine,
) -> None:
    new = credentials.create(worker_env, role="sender", organization="acme", name="r", now=utcnow())
    assert credentials.authenticate(worker_env, new.key, cache_seconds=0.6) == new.principal
    cached = credentials.recent(new.key)
    assert cached is not None and cached.principal == new.principal and not cached.refresh_due
    time.sleep(0.35)
    cached = credentials.recent(new.key)
    assert cached is not None and cached.refresh_due  # still answers meanwhile
    # Revoked elsewhere (another process): this one's entry is not dropped at once ...
    with worker_env.begin() as conn:
        conn.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.key_id == new.principal.key_id)
            .values(revoked_at=utcnow())
        )
    assert credentials.recent(new.key) is not None
    # ... but the background read (reread) finds the revocation and forgets the key.
    assert credentials.authenticate(worker_env, new.key, cache_seconds=0.6, reread=True) is None
    assert credentials.recent(new.key) is None


def test_a_new_key_is_verified_once_off_the_event_loop(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, api_key_cache_seconds="30")
    new = credentials.create(worker_env, role="sender", organization="acme", name="v", now=utcnow())
    calls: list[str] = []
    slow = credentials._verify

    def counted(secret: str, stored: str) -> bool:
        calls.append(threading.current_thread().name)
        return slow(secret, stored)

    monkeypatch.setattr(credentials, "_verify", counted)

    async def many() -> list[object]:
        ticks = 0

        async def ticking() -> None:  # the loop keeps running while scrypt does
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        ticker = asyncio.create_task(ticking())
        found = await asyncio.gather(*(identity.verify(new.key) for _ in range(20)))
        ticker.cancel()
        assert ticks > 0
        return list(found)

    found = asyncio.run(many())
    assert found == [new.principal] * 20
    assert len(calls) == 1 and calls[0].startswith("api-keys"), calls
    assert identity.known(new.key) == new.principal
