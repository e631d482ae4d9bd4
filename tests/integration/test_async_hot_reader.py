"""store.db.AsyncHotReader, the single check's read awaited on the event loop: the same
rows as the blocking HotReader, reads in flight together on their own connections (never
more than its size), and a connection the server dropped is replaced on the next read."""

from __future__ import annotations

import asyncio

import psycopg
from sqlalchemy import Engine

from bounce_worker import api, lookup
from bounce_worker.store.db import AsyncHotReader, HotReader

SLEEP = "SELECT pg_backend_pid() FROM pg_sleep(%s)"


def _url(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_reads_overlap_up_to_the_size_and_survive_a_dropped_connection(
    pg_engine: Engine,
) -> None:
    url = _url(pg_engine)

    async def run() -> None:
        reader = AsyncHotReader(url, size=3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        pids = await asyncio.gather(*(reader.rows(SLEEP, [0.3]) for _ in range(6)))
        took = loop.time() - started
        # Six reads of 0.3 s on three connections: two rounds, not six, and three backends.
        assert 0.55 < took < 1.5, took
        assert len({row[0][0] for row in pids}) == 3
        # The server drops the connections: the next read reconnects and answers.
        with psycopg.connect(url, autocommit=True) as admin:
            for (pid,) in {row[0] for row in pids}:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        again = await reader.rows("SELECT 1 + %s", [1])
        assert again == [(2,)]

    asyncio.run(run())


def test_the_awaited_check_answers_as_the_blocking_one(pg_engine: Engine) -> None:
    api.suppress("held@example.org", reason="seed", actor="seed", state="blocked",
                 scope="global", engine=pg_engine)  # fmt: skip
    api.suppress("@domain.example", reason="seed", actor="seed", organization="acme",
                 engine=pg_engine)  # fmt: skip
    url = _url(pg_engine)
    sync = HotReader(url)
    keys = lookup.candidate_keys("email", "held@domain.example", None)
    sql = lookup._FEW_SQL[len(keys)]
    params = lookup._few_params(keys)

    async def both() -> None:
        for address in ("held@example.org", "x@domain.example", "free@example.org"):
            for org in (None, "acme"):
                blocking = api.check_fast(address, organization=org, engine=pg_engine)
                awaited = await api.check_fast_async(address, organization=org, engine=pg_engine)
                assert awaited == blocking, (address, org)
        assert await AsyncHotReader(url).rows(sql, params) == sync.rows(sql, params)

    asyncio.run(both())
    sync.close()


def test_the_blocking_reader_survives_all_its_connections_dropped(pg_engine: Engine) -> None:
    url = _url(pg_engine)
    reader = HotReader(url)
    reader._idle = [reader._connect(), reader._connect()]
    pids = [conn.info.backend_pid for conn in reader._idle]
    with psycopg.connect(url, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert reader.rows("SELECT 1 + %s", [1]) == [(2,)]
    reader.close()
