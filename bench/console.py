"""Console page cost: `python bench/console.py [--rows 1000000] [--database-url URL]`.

Fills a scratch PostgreSQL database with N suppression entries (one set-based statement per
table: entries over 20 organizations, the global scope and lists, email/sms/domain, every
state; one transition each with the MTA's reply; 60 nightly statistics snapshots; dead
letters), makes an owner and a support key, starts the real `bounce-worker serve`, signs in
as a browser does and fetches each console page several times. Prints per page the server
time (median and worst of the `Server-Timing` the page reports, and the wall time the
client saw) and the page weight (the HTML's bytes: a console page loads nothing else; its
style is inline and it has no script, image or font). Goals: server time <= 300 ms on
1,000,000 entries, weight <= 200 KB.

It never touches existing data: it creates `bw_bench_console_<pid>` on the server of URL
(default the local PostgreSQL) and drops it afterwards (--keep keeps it).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ORGS = 20
REPO = Path(__file__).resolve().parents[1]
GOAL_MS, GOAL_BYTES = 300, 200 * 1024


def seed(url: str, rows: int, now: datetime = NOW) -> None:
    """N entries with one transition each, statistics history and dead letters (idempotent
    per database: run it once on an empty, migrated database)."""
    at = now.isoformat()
    entries = f"""
    INSERT INTO entries (channel, address, display_address, scope, organization, list, state,
                         reason, blocked_until, temp_block_count, temp_block_last_end,
                         soft_bounce_count, updated_at)
    SELECT ch, addr, addr, sc,
           CASE WHEN sc = 'global' THEN '' ELSE 'org' || lpad((i % {ORGS})::text, 2, '0') END,
           CASE WHEN sc = 'list' THEN 'news' || (i % 3) ELSE '' END,
           st, rs,
           CASE WHEN st = 'temporarily_blocked' THEN ts + interval '3 days' END,
           CASE WHEN st = 'temporarily_blocked' THEN 1 + i % 4 ELSE 0 END, NULL, 0, ts
    FROM (
      SELECT i,
        CASE WHEN i % 10 = 0 THEN 'sms' WHEN i % 97 = 0 THEN 'domain' ELSE 'email' END AS ch,
        CASE WHEN i % 10 = 0 THEN '+4930' || lpad(i::text, 9, '0')
             WHEN i % 97 = 0 THEN 'bench' || i || '.example'
             ELSE 'user' || i || '@example' || (i % 1000) || '.org' END AS addr,
        CASE WHEN i % 5 IN (0, 1) OR i % 97 = 0 THEN 'global'
             WHEN i % 5 = 2 AND i % 2 = 0 THEN 'list' ELSE 'organization' END AS sc,
        CASE WHEN i % 97 = 0 OR i % 5 = 0 THEN 'blocked' WHEN i % 5 = 1 THEN
                  (CASE WHEN i % 3 = 0 THEN 'active' ELSE 'temporarily_blocked' END)
             WHEN i % 5 = 4 THEN 'blocked' ELSE 'blacklisted' END AS st,
        CASE WHEN i % 97 = 0 THEN 'manual' WHEN i % 5 = 0 THEN 'hard_bounce'
             WHEN i % 5 = 1 THEN (CASE WHEN i % 3 = 0 THEN 'block_expired' ELSE 'mailbox_full' END)
             WHEN i % 5 = 4 THEN 'complaint'
             WHEN i % 7 = 0 THEN 'soft_bounce_limit' ELSE 'unsubscribe' END AS rs,
        -- Newer entries have higher ids, as in a live table: 400 days, oldest first.
        timestamptz '{at}' - ({rows} - i) * (interval '400 days' / {rows}) AS ts
      FROM generate_series(1, {rows}) AS s(i)
    ) AS g"""
    transitions = """
    INSERT INTO transitions (entry_id, from_state, to_state, reason, event_id, diagnostic,
                             occurred_at, recorded_at)
    SELECT id, 'active', state, reason, 'bench-' || id,
           CASE reason WHEN 'hard_bounce' THEN '550 5.1.1 <' || display_address || '>: user unknown'
                       WHEN 'mailbox_full' THEN '552 5.2.2 mailbox full'
                       WHEN 'complaint' THEN 'abuse report' END,
           updated_at, updated_at
    FROM entries"""
    snapshots = f"""
    INSERT INTO recalculation_stats (computed_at, organization, channel, active,
                                     temporarily_blocked, blacklisted, blocked, lost, never_sent)
    SELECT timestamptz '{at}' - d * interval '1 day',
           CASE WHEN o = 0 THEN '' ELSE 'org' || lpad((o % {ORGS})::text, 2, '0') END, c,
           ({rows} / 100 + d * 7 + o), ({rows} / 200 + (d * 13 + o) % 500),
           ({rows} / 80 - d * 11 + o), ({rows} / 60 - d * 9 + o * 2),
           ({rows} / 150 - d * 3), ({rows} / 90 - d * 5)
    FROM generate_series(0, 59) AS d, generate_series(0, {ORGS}) AS o,
         (VALUES ('email'), ('sms')) AS ch(c)"""
    letters = f"""
    INSERT INTO dead_letters (received_at, kind, source, payload, reason)
    SELECT timestamptz '{at}' - i * interval '1 hour', 'event', 'bench:' || i,
           convert_to('{{"event_id": "dl-' || i || '"', 'UTF8'), 'not valid JSON: bench'
    FROM generate_series(1, 500) AS s(i)"""
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        for stmt in (entries, transitions, snapshots, letters):
            conn.execute(stmt)  # type: ignore[arg-type]
        conn.execute("ANALYZE")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sign_in(client: httpx.Client, key: str) -> None:
    form = client.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, "no CSRF token on the sign-in page"
    done = client.post("/console/sign-in", data={"key": key, "csrf": token.group(1)})
    if done.status_code != 303:
        raise SystemExit(f"bench: sign-in failed ({done.status_code})")


PAGES = [  # (label, role, path): what support and owners open all day
    ("search: contact card (hard bounce)", "support", "/console/search?q=USER5@example5.org"),
    ("search: contact card (owner, org)", "owner", "/console/search?q=user12@example12.org"),
    ("search: not found", "support", "/console/search?q=nobody@nowhere.example"),
    ("suppressions: first page", "support", "/console/suppressions"),
    (
        "suppressions: state=blocked, email",
        "support",
        "/console/suppressions?state=blocked&channel=email",
    ),
    ("suppressions: reason=manual (rare)", "support", "/console/suppressions?reason=manual"),
    ("suppressions: organization org07", "support", "/console/suppressions?organization=org07"),
    (
        "suppressions: org12 + list news1",
        "support",
        "/console/suppressions?organization=org12&list=news1",
    ),
    (
        "suppressions: date range, 1 month",
        "support",
        "/console/suppressions?since=2026-06-01&until=2026-06-30",
    ),
    (
        "suppressions: oldest month (deep)",
        "support",
        "/console/suppressions?since=2025-10-26&until=2025-11-25",
    ),
    ("suppressions: matches nothing", "support", "/console/suppressions?reason=no_such_reason"),
    ("suppressions: owner, blacklisted", "owner", "/console/suppressions?state=blacklisted"),
    ("statistics: every organization", "support", "/console/statistics"),
    ("statistics: org07", "support", "/console/statistics?organization=org07"),
    ("statistics: owner", "owner", "/console/statistics"),
    ("import check form", "owner", "/console/import"),
]


def measure(
    base: str, keys: dict[str, str], rounds: int
) -> list[tuple[str, float, float, float, int]]:
    clients = {}
    for role, key in keys.items():
        clients[role] = httpx.Client(base_url=base, timeout=60)
        sign_in(clients[role], key)
    out = []
    for label, role, path in PAGES:
        client = clients[role]
        # The deepest keyset page is as cheap as the first; follow one "Older" link too.
        server, wall, size = [], [], 0
        for _ in range(rounds):
            t0 = time.perf_counter()
            r = client.get(path)
            wall.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise SystemExit(f"bench: {path} answered {r.status_code}: {r.text[:300]}")
            m = re.search(r"dur=([\d.]+)", r.headers.get("server-timing", ""))
            server.append(float(m.group(1)) if m else float("nan"))
            size = len(r.content)
        out.append((label, statistics.median(server), max(server), statistics.median(wall), size))
    older = clients["support"].get("/console/suppressions?state=blocked")
    link = re.search(r'id="older" href="([^"]+)"', older.text)
    if link:
        path = link.group(1).replace("&amp;", "&")
        times = []
        for _ in range(rounds):
            r = clients["support"].get(path)
            m = re.search(r"dur=([\d.]+)", r.headers.get("server-timing", ""))
            times.append(float(m.group(1)) if m else float("nan"))
        out.append(("suppressions: next page (keyset)", statistics.median(times), max(times),
                    float("nan"), len(r.content)))  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="entries (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=5, help="fetches per page (default 5)")
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to create the scratch database on",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is not met")
    args = parser.parse_args(argv)

    from bounce_worker import credentials
    from bounce_worker.store.db import get_engine
    from bounce_worker.store.migrate import upgrade

    admin = _libpq(args.database_url)
    name = f"bw_bench_console_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    server = None
    try:
        upgrade(url)
        t0 = time.perf_counter()
        seed(url, args.rows)
        print(f"bench/console.py: {args.rows:,} entries seeded in {time.perf_counter() - t0:.1f} s"
              f" (scratch database {name})")  # fmt: skip
        engine = get_engine(url)
        keys = {
            "support": credentials.create(engine, role="support", organization=None,
                                          name="bench support", now=NOW).key,
            "owner": credentials.create(engine, role="owner", organization="org12",
                                        name="bench owner", now=NOW).key,
        }  # fmt: skip
        engine.dispose()
        port = _free_port()
        env = dict(os.environ, BOUNCE_WORKER_DATABASE_URL=url)
        server = subprocess.Popen(
            [sys.executable, "-m", "bounce_worker.cli", "serve", "--port", str(port)],
            env=env, cwd=REPO, start_new_session=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        results = measure(base, keys, args.rounds)
        print(f"{'page':40} {'server median':>13} {'worst':>8} {'wall':>8} {'weight':>9}")
        worst_ms = worst_kb = 0.0
        for label, med, worst, wall, size in results:
            print(f"{label:40} {med:10.1f} ms {worst:5.1f} ms {wall:5.1f} ms {size / 1024:6.1f} KB")
            worst_ms, worst_kb = max(worst_ms, med), max(worst_kb, size / 1024)
        verdict = "met" if worst_ms <= GOAL_MS and worst_kb * 1024 <= GOAL_BYTES else "NOT met"
        print(f"slowest page (median server time) {worst_ms:.1f} ms (goal {GOAL_MS} ms); "
              f"heaviest page {worst_kb:.1f} KB (goal 200 KB): {verdict}")  # fmt: skip
        return 1 if args.check and verdict != "met" else 0
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        if not args.keep:
            from bounce_worker.store.db import get_engine as _ge

            _ge(url).dispose()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
