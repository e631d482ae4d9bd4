"""Engines: one per URL per process, tuned per database."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError

from bounce_worker.limits import DB_CONNECT_TIMEOUT, DB_KEEPALIVES


def normalize_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (SQLAlchemy's default driver is psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


_ENGINES: dict[str, Engine] = {}


def get_engine(url: str) -> Engine:
    url = normalize_url(url)
    engine = _ENGINES.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 60})
            _sqlite_setup(engine)
        else:
            engine = create_engine(url, pool_size=5, max_overflow=5,
                                   connect_args=connect_args(url))  # fmt: skip
            _ping_when_idle(engine)
        _ENGINES[url] = engine
    return engine


def connect_args(url: str) -> dict[str, Any]:
    """PostgreSQL connects time out (limits.DB_CONNECT_TIMEOUT) and open connections are
    kept alive (limits.DB_KEEPALIVES), each unless the URL says otherwise."""
    given = make_url(url).query
    defaults = {"connect_timeout": DB_CONNECT_TIMEOUT, **DB_KEEPALIVES}
    return {key: value for key, value in defaults.items() if key not in given}


_READERS: dict[str, Engine] = {}


def reader(engine: Engine) -> Engine:
    """For single-statement reads on hot paths (an API key, a single check): on PostgreSQL
    an engine of its own in autocommit, so a read costs one round trip - no BEGIN, no
    ROLLBACK, and no isolation level set and reset per checkout (what
    `execution_options(isolation_level=...)` on a shared pool does). SQLite: the engine."""
    if engine.dialect.name != "postgresql":
        return engine
    key = engine.url.render_as_string(hide_password=False)
    found = _READERS.get(key)
    if found is None:
        found = create_engine(
            engine.url,
            pool_size=5,
            max_overflow=10,
            isolation_level="AUTOCOMMIT",
            connect_args=connect_args(key),
        )
        _ping_when_idle(found)
        _READERS[key] = found
    return found


class HotReader:
    """Plain psycopg connections in autocommit for the single check's one SELECT.

    SQLAlchemy's execute path (connection checkout, compiled-cache lookup, result proxy)
    cost twice the CPU of the read itself on the API's hot path (bench/api.py). This keeps
    a few raw connections, runs server-side prepared statements on them (psycopg prepares a
    statement from its first use with prepare=True) and returns plain tuples. Used from the
    event loop's one thread (no lock); a connection that fails is dropped and the read is
    tried once more on a new one (the server restarted, an idle timeout), the idle ones
    dropped with it."""

    def __init__(self, url: str, keep: int = 4) -> None:
        self.url, self.keep = url, keep
        self._idle: list[Any] = []

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        import psycopg

        for attempt in (1, 2):
            conn = self._idle.pop() if attempt == 1 and self._idle else self._connect()
            try:
                rows = conn.execute(sql, params, prepare=True).fetchall()
            except psycopg.OperationalError:
                conn.close()
                if attempt == 2:
                    raise
                self.close()  # the server restarted or dropped us: the idle ones are as dead
                continue
            if len(self._idle) < self.keep:
                self._idle.append(conn)
            else:
                conn.close()
            return rows
        raise AssertionError("unreachable")

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True, **connect_args(self.url))

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


class AsyncHotReader:
    """HotReader for the event loop itself: psycopg AsyncConnections in autocommit, the
    same prepared statements, awaited instead of waited for.

    The single check's read used to block the loop for its round trip: on a shared 2-core
    machine the database backend may wait milliseconds for a CPU, and every request that
    arrived meanwhile waited behind it before its own read was even sent (traced: of the
    slowest 1 % of checks' ~5 ms wait before the server took them up, 3.5 ms was the loop
    blocked in other requests' reads). Awaited, reads of requests that arrive together are
    in flight together, one connection each, at most `size` at once (more wait their turn:
    a stall must not open a connection per queued request)."""

    def __init__(self, url: str, size: int = 8) -> None:
        self.url = url
        self._idle: list[Any] = []
        self._slots = asyncio.Semaphore(size)  # so at most `size` connections exist

    async def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        import psycopg

        async with self._slots:
            for attempt in (1, 2):
                reuse = attempt == 1 and self._idle
                conn = self._idle.pop() if reuse else await self._connect()
                try:
                    cursor = await conn.execute(sql, params, prepare=True)
                    rows = await cursor.fetchall()
                except psycopg.OperationalError:
                    conn.pgconn.finish()
                    if attempt == 2:
                        raise
                    # The server restarted or dropped us: the idle ones are as dead.
                    while self._idle:
                        self._idle.pop().pgconn.finish()
                    continue
                except BaseException:
                    # Cancelled or failed mid-read: the connection's state is unknown.
                    conn.pgconn.finish()
                    raise
                self._idle.append(conn)
                return rows
        raise AssertionError("unreachable")

    async def _connect(self) -> Any:
        import psycopg

        args = connect_args(self.url)  # a host that never answers: fail, not hang
        return await psycopg.AsyncConnection.connect(self.url, autocommit=True, **args)


_HOT: dict[Engine, HotReader] = {}
# Per event loop (an AsyncConnection belongs to the loop that opened it), per engine.
_ASYNC_HOT: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Engine, AsyncHotReader]]
_ASYNC_HOT = weakref.WeakKeyDictionary()


def hot_reader(engine: Engine) -> HotReader | None:
    """The engine's HotReader on PostgreSQL (None on SQLite: use the engine)."""
    found = _HOT.get(engine)
    if found is None:
        if engine.dialect.name != "postgresql":
            return None
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        found = _HOT[engine] = HotReader(url)
    return found


def async_hot_reader(engine: Engine) -> AsyncHotReader | None:
    """The engine's AsyncHotReader for the running event loop on PostgreSQL (None on
    SQLite: use the engine)."""
    if engine.dialect.name != "postgresql":
        return None
    readers = _ASYNC_HOT.setdefault(asyncio.get_running_loop(), {})
    found = readers.get(engine)
    if found is None:
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        found = readers[engine] = AsyncHotReader(url)
    return found


# A connection back in use within this many seconds is not pinged (see _ping_when_idle).
IDLE_PING_AFTER = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping, but only for a connection that sat idle in the pool.

    pre_ping costs a round trip on every checkout: a busy worker checks a connection out
    per message, and the ping was a quarter of the single-event path's own cost. A
    connection idle for a while may be dead (server restarted, idle timeout), so it is
    pinged, and replaced if the ping fails. One that broke while in use fails its task,
    which retries (tasks.TRANSIENT) on a fresh connection: SQLAlchemy invalidates it, and
    so does the event writer (store/writer_pg.py) for the errors it sees first."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_AFTER:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc


def _sqlite_setup(engine: Engine) -> None:
    # WAL lets readers (status, Flower, tests) run beside the writer; BEGIN IMMEDIATE takes
    # the write lock up front, so two worker processes wait for each other instead of
    # failing with "database is locked" when a read transaction tries to upgrade.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def dispose_all() -> None:
    """After a fork (Celery prefork), drop connections inherited from the parent."""
    for engine in [*_ENGINES.values(), *_READERS.values()]:
        engine.dispose(close=False)
    _HOT.clear()  # the parent's connections are the parent's: dropped, never used here
    _ASYNC_HOT.clear()
