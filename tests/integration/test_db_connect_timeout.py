"""A PostgreSQL host that accepts the TCP connection and never answers (a half-dead server,
a firewall that drops the startup packet) makes a connect fail after the connect timeout
instead of hanging for minutes: the retry loop can then see a warm shutdown (limits.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import OperationalError

from bounce_worker.errors import TRANSIENT
from bounce_worker.limits import DB_CONNECT_TIMEOUT
from bounce_worker.store.db import connect_args, get_engine


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
        "connect_timeout": DB_CONNECT_TIMEOUT
    }
    assert connect_args("postgresql+psycopg://postgres@127.0.0.1/test?connect_timeout=3") == {}
    engine = get_engine("postgresql://postgres@127.0.0.1:5432/test")
    with engine.connect() as conn:  # the real server: the option is accepted
        assert conn.exec_driver_sql("select 1").scalar() == 1
