"""Giving a big message's memory back to the system once the worker is done with it.

A raw mail travels as base64 inside JSON: an 8.8 MB mail is a 12 MB task body, held by the
broker's message object, decoded into the task's arguments, decoded again into bytes and
parsed (bench/hostile.py). Python frees all of it when the message is acknowledged and
dropped (broker.ReliableQoS drops it at the acknowledgement), but glibc keeps freed heap
memory in the process, so an idle worker would stay the size of the largest mail it has
seen. Two measures, both in every worker process:

- allocations of BIG_BYTES and more get a mapping of their own, unmapped when freed
  (`big_buffers_unmapped`, at worker start, inherited by the pool's children): the big
  copies go back to the system whoever drops them last, and whenever;
- after a big message, once every big message is gone, a full collection (the request,
  message and parse objects sit in reference cycles) and `malloc_trim(0)`, which hands
  back the free heap pages the parse's many small objects left (`trim`).

Two places trim: the consumer (poison.GuardedConsumer, the worker's main process, which
holds the broker's copy of every message: with --pool solo it is also the process that runs
the task) and the end of an ingest task (celery_app, in a prefork child: billiard keeps the
last job's arguments until the next job arrives, so the child gives back the parse and the
decoded mail, not the argument string). Small messages skip both: a collection costs tens
of milliseconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import weakref
from typing import Any

BIG_BYTES = 1024 * 1024  # a task body (or argument) this long is a raw mail worth trimming
M_MMAP_THRESHOLD = -3  # glibc's malloc.h
RECHECK_SECONDS = 1.0  # how often the consumer looks whether its big messages are gone


def big_buffers_unmapped() -> None:
    """glibc: allocations of BIG_BYTES and more are mapped on their own and unmapped when
    freed, whoever frees them and whenever (M_MMAP_THRESHOLD set; left alone, glibc raises
    the threshold to the largest block freed, so the copies of a mail land in the heap)."""
    with contextlib.suppress(OSError, AttributeError):
        _libc().mallopt(M_MMAP_THRESHOLD, BIG_BYTES)


def trim() -> None:
    """A full collection, then glibc's malloc_trim(0) (no-op without glibc)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        _libc().malloc_trim(0)


@functools.cache
def _libc() -> ctypes.CDLL:
    # Looked up once: find_library runs `ldconfig -p` in a subprocess (3 ms, and a fork of
    # a process that may be holding a big mail).
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def is_big(body: Any) -> bool:
    return isinstance(body, str | bytes | bytearray | memoryview) and len(body) > BIG_BYTES


class AfterBigMessages:
    """Trims once every big message the consumer took is gone (acknowledged and dropped).

    Messages are watched through weak references, so watching keeps none alive; `timer` is
    the consumer's (`call_after(seconds, fun)`): the check runs in the worker's event loop
    (Redis, RabbitMQ) or in Celery's timer thread (the embedded broker, which has no event
    loop)."""

    def __init__(self, timer: Any) -> None:
        self._timer = timer
        self._pending: weakref.WeakSet[Any] = weakref.WeakSet()
        self._armed = False
        self._waited = 0  # looks that found a big message still in flight

    def took(self, message: Any) -> None:
        if not is_big(getattr(message, "body", None)):
            return
        with contextlib.suppress(TypeError):  # a message type without weak references
            self._pending.add(message)
        self._arm()

    def _arm(self) -> None:
        if not self._armed:
            self._armed = True
            self._timer.call_after(RECHECK_SECONDS, self._check)

    def _check(self) -> None:
        self._armed = False
        if len(self._pending):
            self._waited += 1
            if self._waited % 2 == 0:
                gc.collect()  # every other look: messages held only by reference cycles
            if len(self._pending):
                self._arm()  # a big message is still in flight: look again later
                return
        self._waited = 0
        trim()
