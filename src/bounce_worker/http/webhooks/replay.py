"""Tokens seen once (Mailgun's replay protection): remembered in Redis when the broker is
Redis, so every `serve` process and host shares them; otherwise in this process's memory
(the embedded default runs one process)."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class TokenStore(Protocol):
    def first_use(self, token: str, ttl: int) -> bool:
        """True the first time `token` is seen within `ttl` seconds, False after."""
        ...


class RedisTokens:
    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix

    def first_use(self, token: str, ttl: int) -> bool:
        # SET NX EX: atomic across processes; the key expires once the timestamp is stale.
        return bool(self._redis.set(f"{self._prefix}:{token}", b"1", nx=True, ex=ttl))


class MemoryTokens:
    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, token: str, ttl: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 100_000:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
            if self._seen.get(token, 0) > now:
                return False
            self._seen[token] = now + ttl
            return True


def token_store(broker_url: str, queue: str) -> TokenStore:
    if broker_url.startswith(("redis://", "rediss://")):
        return RedisTokens(broker_url, f"{queue}:webhook-token")
    return MemoryTokens()
