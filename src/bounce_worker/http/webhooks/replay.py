"""Tokens seen once (Mailgun's replay protection): remembered in Redis when the broker is
Redis, so every `serve` process and host shares them; otherwise in this process's memory
(the embedded default runs one process). Claimed in batches: the publisher checks the
tokens of concurrent requests in one pipelined round trip, and gives back those whose
message the broker did not take."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol


class TokenStore(Protocol):
    def first_use(self, token: str, ttl: int) -> bool:
        """True the first time `token` is seen within `ttl` seconds, False after."""
        ...

    def first_use_many(self, tokens: Sequence[tuple[str, int]]) -> list[bool]:
        """`first_use` for each (token, ttl), in order (a token twice: True, then False)."""
        ...

    def release_many(self, tokens: Sequence[str]) -> None:
        """Forget tokens claimed for a message the broker did not take."""
        ...


class RedisTokens:
    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix
        self.url = url  # the publisher's fast path claims tokens in its own pipeline

    def key(self, token: str) -> str:
        return f"{self._prefix}:{token}"

    def first_use(self, token: str, ttl: int) -> bool:
        return self.first_use_many([(token, ttl)])[0]

    def first_use_many(self, tokens: Sequence[tuple[str, int]]) -> list[bool]:
        # SET NX EX: atomic across processes; the key expires once the timestamp is stale.
        with self._redis.pipeline(transaction=False) as pipe:
            for token, ttl in tokens:
                pipe.set(self.key(token), b"1", nx=True, ex=ttl)
            return [bool(done) for done in pipe.execute()]

    def release_many(self, tokens: Sequence[str]) -> None:
        self._redis.delete(*(self.key(token) for token in tokens))


class MemoryTokens:
    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, token: str, ttl: int) -> bool:
        return self.first_use_many([(token, ttl)])[0]

    def first_use_many(self, tokens: Sequence[tuple[str, int]]) -> list[bool]:
        now = time.monotonic()
        out = []
        with self._lock:
            if len(self._seen) > 100_000:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
            for token, ttl in tokens:
                first = self._seen.get(token, 0) <= now
                if first:
                    self._seen[token] = now + ttl
                out.append(first)
        return out

    def release_many(self, tokens: Sequence[str]) -> None:
        with self._lock:
            for token in tokens:
                self._seen.pop(token, None)


def token_store(broker_url: str, queue: str) -> TokenStore:
    if broker_url.startswith(("redis://", "rediss://")):
        return RedisTokens(broker_url, f"{queue}:webhook-token")
    return MemoryTokens()


@lru_cache(maxsize=1)
def shared_tokens() -> TokenStore:
    """The token store of this process's settings."""
    from bounce_worker.config import settings

    s = settings()
    return token_store(s.broker_url, s.queue)
