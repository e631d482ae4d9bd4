"""Scale benchmark of the nightly jobs: `python bench/jobs.py --rows N [--database-url URL]`.

Fills a scratch database with N suppression entries in one set-based statement per table
(generate_series on PostgreSQL, a recursive CTE on SQLite), a share of them expired
temporary blocks, with their transitions, deliveries, event payloads and dead letters; then
times the nightly unlock, recalculation and housekeeping in that order (the beat's order)
and prints rows/s and this process's peak memory (ru_maxrss; the database server's own
memory is not ours).

It never touches existing data: on PostgreSQL it creates `bw_bench_<pid>` on the server of
URL and drops it afterwards (--keep to keep it); on SQLite it needs a file that does not
exist yet (default: a temporary file).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bounce_worker import jobs
from bounce_worker.jobs.common import sql
from bounce_worker.store.db import get_engine, normalize_url
from bounce_worker.store.migrate import upgrade

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
QUIET = timedelta(days=90)
RETENTION = timedelta(days=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="suppression entries to create")
    parser.add_argument("--database-url", help="PostgreSQL server or new SQLite file URL")
    parser.add_argument(
        "--expired", type=int, help="how many are expired temporary blocks (default: 20%%)"
    )
    parser.add_argument("--batch-size", type=int, default=10_000, help="rows per batch")
    parser.add_argument(
        "--workers", type=int, default=2, help="parallel batches on PostgreSQL (default 2)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    expired = args.rows // 5 if args.expired is None else args.expired
    if not 0 <= expired <= args.rows:
        parser.error("--expired must be between 0 and --rows")
    url, drop = scratch_database(args.database_url)
    shown = make_url(url).render_as_string(hide_password=True)
    print(f"scratch database: {shown}" + ("" if args.keep else " (dropped afterwards)"))
    try:
        upgrade(url)
        engine = get_engine(url)
        run(engine, args.rows, expired, args.batch_size, args.workers)
    finally:
        get_engine(url).dispose()
        if not args.keep:
            drop()
    return 0


def scratch_database(given: str | None) -> tuple[str, Callable[[], None]]:
    if given and normalize_url(given).startswith("postgresql"):
        server = make_url(normalize_url(given))
        name = f"bw_bench_{int(time.time())}_{os.getpid()}"
        admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return server.set(database=name).render_as_string(hide_password=False), drop
    if given:
        path = Path(make_url(given).database or "")
        if path.exists():
            sys.exit(f"bench/jobs.py: error: {path} exists; give a new SQLite file")
        return given, lambda: None
    tmp = tempfile.TemporaryDirectory(prefix="bw-bench-")
    return f"sqlite:///{tmp.name}/bench.sqlite3", tmp.cleanup


def ts(dialect: str, hours: str) -> str:
    """SQL for NOW plus `hours` (an integer SQL expression), stored the way UTCDateTime
    stores it: timestamptz on PostgreSQL, 'YYYY-MM-DD HH:MM:SS.ffffff' text on SQLite."""
    if dialect == "postgresql":
        return f"(CAST(:now AS timestamptz) + ({hours}) * interval '1 hour')"
    return f"(strftime('%Y-%m-%d %H:%M:%S', :now, printf('%+d hours', {hours})) || '.000000')"


def series(dialect: str, n: str) -> tuple[str, str]:
    """(prefix, source) giving rows i = 1..n."""
    if dialect == "postgresql":
        return "", f"generate_series(1, {n}) AS s(i)"
    return f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) ", "s"


# Entry kinds by i: 1..expired are expired temporary blocks (missed nights spread over the
# last 3 days); the rest: 40% active, 20% unsubscribed, 15% complaints, 10% hard bounces,
# 15% temporary blocks still running. 10% are SMS; 50 organizations.
_KIND = """CASE WHEN i <= :expired THEN 'expired' WHEN i % 20 < 8 THEN 'active'
    WHEN i % 20 < 12 THEN 'unsub' WHEN i % 20 < 15 THEN 'complaint'
    WHEN i % 20 < 17 THEN 'hard' ELSE 'tempblock' END"""


def fill_statements(dialect: str) -> list[str]:
    prefix, source = series(dialect, ":n")
    half_prefix, half_source = series(dialect, ":half")
    dl_prefix, dl_source = series(dialect, ":dead")
    blob = "convert_to({}, 'UTF8')" if dialect == "postgresql" else "CAST({} AS BLOB)"
    g = "(k IN ('expired', 'hard', 'tempblock') OR (k = 'active' AND i % 2 = 0))"
    until = f"""CASE k WHEN 'expired' THEN {ts(dialect, "-(1 + i % 72)")}
        WHEN 'tempblock' THEN {ts(dialect, "24 * (1 + i % 90)")} END"""
    return [
        f"""{prefix}INSERT INTO entries (channel, address, display_address, scope, organization,
            list, state, reason, blocked_until, temp_block_count, temp_block_last_end,
            soft_bounce_count, updated_at)
        SELECT ch, addr, addr,
            CASE WHEN {g} THEN 'global' ELSE 'organization' END,
            CASE WHEN {g} THEN '' ELSE 'org-' || (i % 50) END, '',
            CASE k WHEN 'active' THEN 'active' WHEN 'unsub' THEN 'blacklisted'
                WHEN 'complaint' THEN 'blocked' WHEN 'hard' THEN 'blocked'
                ELSE 'temporarily_blocked' END,
            CASE k WHEN 'active' THEN NULL WHEN 'unsub' THEN 'unsubscribe'
                WHEN 'complaint' THEN 'complaint' WHEN 'hard' THEN 'hard_bounce'
                ELSE 'mailbox_full' END,
            {until},
            CASE WHEN k IN ('expired', 'tempblock') THEN 1 + i % 4
                WHEN k = 'active' AND i % 2 = 0 THEN 2 ELSE 0 END,
            CASE WHEN k IN ('expired', 'tempblock') THEN {until}
                WHEN k = 'active' AND i % 2 = 0
                THEN {ts(dialect, "CASE WHEN i % 4 = 0 THEN -2400 ELSE -240 END")} END,
            0,
            CASE k WHEN 'expired' THEN {ts(dialect, "-(25 + i % 72)")}
                ELSE {ts(dialect, "-24 * (1 + i % 365)")} END
        FROM (SELECT i, {_KIND} AS k,
                CASE WHEN i % 10 = 0 THEN 'sms' ELSE 'email' END AS ch,
                CASE WHEN i % 10 = 0 THEN '+4470' || (10000000 + i)
                    ELSE 'user' || i || '@example.org' END AS addr
              FROM {source}) AS x""",
        # Each suppression has the transition that put it there, at its updated_at.
        """INSERT INTO transitions (entry_id, from_state, to_state, reason, occurred_at,
            recorded_at)
        SELECT id, 'active', state, reason, updated_at, updated_at FROM entries
        WHERE state <> 'active'""",
        # Two addresses in three had a delivery, some before and some after suppression.
        f"""INSERT INTO deliveries (channel, address, organization, first_delivered_at,
            last_delivered_at)
        SELECT channel, address,
            CASE organization WHEN '' THEN 'org-' || (id % 50) ELSE organization END,
            {ts(dialect, "-24 * (id % 400)")}, :now
        FROM entries WHERE id % 3 <> 0""",
        f"""{half_prefix}INSERT INTO processed_events (event_id, processed_at, payload)
        SELECT 'ev-' || i, {ts(dialect, "-24 * (i % 180)")},
            '{{"event_id": "ev-' || i || '", "type": "bounce", "recipient": "user' || i
            || '@example.org", "status": "5.2.2", "diagnostic": "552 5.2.2 mailbox full"}}'
        FROM {half_source}""",
        f"""{dl_prefix}INSERT INTO dead_letters (received_at, kind, source, payload, reason)
        SELECT {ts(dialect, "-24 * (i % 180)")}, 'event', 'bench',
            {blob.format("'{broken json ' || i")}, 'not valid JSON'
        FROM {dl_source}""",
    ]


def fill(engine: Engine, rows: int, expired: int) -> None:
    dialect = engine.dialect.name
    params = {"n": rows, "half": rows // 2, "dead": max(1, rows // 100), "expired": expired}
    with engine.begin() as conn:
        for statement in fill_statements(dialect):
            conn.execute(sql(statement), params | {"now": NOW})
    # What autovacuum would have done by night time: planner statistics, visibility map.
    vacuum = "VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(vacuum))


def timed(label: str, rows: int, seconds: float, note: str) -> None:
    rate = rows / seconds if seconds else float("inf")
    print(f"{label:<13} {rows:>11,} rows in {seconds:7.2f} s = {rate:>11,.0f} rows/s  {note}")


def run(engine: Engine, rows: int, expired: int, batch: int, workers: int) -> None:
    print(
        f"bench/jobs.py: {engine.dialect.name}, {rows:,} entries "
        f"({expired:,} expired temporary blocks), batch {batch:,}, "
        f"{workers if engine.dialect.name == 'postgresql' else 1} worker(s)"
    )
    start = time.perf_counter()
    fill(engine, rows, expired)
    print(f"{'fill':<13} {rows:>11,} entries in {time.perf_counter() - start:7.2f} s")

    start = time.perf_counter()
    unlocked = jobs.unlock_expired(engine, NOW, batch_size=batch, workers=workers)
    timed("unlock", unlocked.rows, time.perf_counter() - start, f"({unlocked.batches} batches)")
    assert unlocked.rows == expired, f"unlocked {unlocked.rows}, expected {expired}"

    start = time.perf_counter()
    stats = jobs.recalculate(engine, NOW, batch_size=batch, workers=workers)
    counted = stats.details["entries"]
    note = f"({stats.batches} batches, {stats.rows} groups)"
    timed("recalculate", counted, time.perf_counter() - start, note)
    assert counted == rows, f"counted {counted}, expected {rows}"

    start = time.perf_counter()
    house = jobs.housekeeping(
        engine, NOW, quiet_period=QUIET, retention=RETENTION, batch_size=batch
    )
    d = house.details
    note = (
        f"({d['counts_reset']:,} counts reset, {d['payloads_purged']:,} payloads and "
        f"{d['dead_letters_purged']:,} dead letters purged; {house.batches} batches)"
    )
    timed("housekeeping", rows + d["payloads_purged"], time.perf_counter() - start, note)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"{'peak memory':<13} {peak_mb:>11.1f} MB (ru_maxrss of this process)")


if __name__ == "__main__":
    sys.exit(main())
