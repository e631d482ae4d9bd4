"""A PostgreSQL host that accepts the TCP connection and never answers (a half-dead server,
a firewall that drops the startup packet) makes a connect fail after the connect timeout
instead of hanging for minutes: the retry loop can then see a warm shutdown (limits.py)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import OperationalError

from bounce_worker.errors import TRANSIENT
from bounce_worker.limits import DB_CONNECT_TIMEOUT, DB_KEEPALIVES
from bounce_worker.store.db import AsyncHotReader, HotReader, connect_args, get_engine, reader


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener accepts connections and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in held:
        conn.close()


def test_connect_to_a_silent_server_times_out_as_a_transient_error(silent_port: int) -> None:
    engine = get_engine(f"postgresql://postgres@127.0.0.1:{silent_port}/test?connect_timeout=1")
    started = time.monotonic()
    with pytest.raises(OperationalError) as raised:
        engine.connect()
    assert time.monotonic() - started < 5
    assert "timeout" in str(raised.value)
    assert isinstance(raised.value, TRANSIENT)  # retried, never dead-lettered


def test_the_default_connect_timeout_applies_unless_the_url_sets_one() -> None:
    assert connect_args("postgresql+psycopg://postgres@127.0.0.1/test") == {
        "connect_timeout": DB_CONNECT_TIMEOUT, **DB_KEEPALIVES
    }
    given = "postgresql+psycopg://postgres@127.0.0.1/test?connect_timeout=3&keepalives_idle=60"
    assert connect_args(given) == {
        key: value for key, value in DB_KEEPALIVES.items() if key != "keepalives_idle"
    }
    engine = get_engine("postgresql://postgres@127.0.0.1:5432/test")
    with engine.connect() as conn:  # the real server: the option is accepted
        assert conn.exec_driver_sql("select 1").scalar() == 1


def _tcp_options(fd: int) -> dict[str, int]:
    """What the kernel applies to a connection's socket (tcp(7))."""
    sock = socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM)  # a duplicate descriptor
    try:
        return {
            "keepalives": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            "keepalives_idle": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            "keepalives_interval": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            "keepalives_count": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
            "tcp_user_timeout": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
        }
    finally:
        sock.close()


def test_every_kind_of_connection_is_kept_alive(pg_url: str) -> None:
    """A connection whose server goes silent after it is open is found dead in about 25 s,
    not two hours: each way the project opens a PostgreSQL connection (the pooled engine,
    the autocommit reader, the API's hot readers) asks the kernel for keepalive probes."""
    engine = get_engine(pg_url)
    with engine.connect() as conn:
        assert _tcp_options(conn.connection.dbapi_connection.pgconn.socket) == DB_KEEPALIVES
    with reader(engine).connect() as conn:
        assert _tcp_options(conn.connection.dbapi_connection.pgconn.socket) == DB_KEEPALIVES
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    hot = HotReader(plain)
    with hot._connect() as raw:
        assert _tcp_options(raw.pgconn.socket) == DB_KEEPALIVES

    async def async_options() -> dict[str, int]:
        conn = await AsyncHotReader(plain)._connect()
        try:
            return _tcp_options(conn.pgconn.socket)
        finally:
            await conn.close()

    assert asyncio.run(async_options()) == DB_KEEPALIVES
