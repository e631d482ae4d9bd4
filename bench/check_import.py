"""Bench: `bounce-worker check-import` on N contact rows.

Fills a database with suppressions (about one address in ten is suppressed: global blocks,
organization and list blacklistings, domain entries; and one forgotten address), writes a
contacts CSV of N rows (1% bad rows), then times the real command end to end in a
subprocess and prints the figure.

    python bench/check_import.py --rows 1000000                       # SQLite (temp file)
    python bench/check_import.py --rows 1000000 --database-url postgresql://.../scratch

--database-url must name a scratch database: it is migrated and filled (rows of the
organization "bench-org" and global entries of bench-*.example domains).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, text

from bounce_worker.domain.targets import forgotten_key
from bounce_worker.store.db import get_engine
from bounce_worker.store.migrate import upgrade
from bounce_worker.store.models import EntryRow

ORG = "bench-org"
SECRET = "bench-secret-of-32-bytes-or-more-long"  # config.MIN_KEY_BYTES


def address(i: int) -> str:
    return f"User.{i}@bench-{i % 997}.example"


def fill(url: str, rows: int) -> int:
    now = datetime.now(UTC)
    entries = []
    for i in range(0, rows, 10):  # every tenth address has an entry
        kind = (i // 10) % 4
        scope, org, lst, state = [
            ("global", "", "", "blocked"),
            ("organization", ORG, "", "blacklisted"),
            ("list", ORG, "news", "blacklisted"),
            ("organization", "other-org", "", "blocked"),  # another org's: must not apply
        ][kind]
        key = address(i).lower()
        entries.append(dict(channel="email", address=key, display_address=address(i),
                            scope=scope, organization=org, list=lst, state=state,
                            reason="bench", temp_block_count=0, soft_bounce_count=0,
                            updated_at=now))  # fmt: skip
    entries.append(dict(entries[0], channel="domain", address="bench-13.example",
                        display_address="bench-13.example"))  # fmt: skip
    forgotten = forgotten_key(SECRET, "email", address(7).lower())
    entries.append(dict(entries[0], address=forgotten, display_address=""))
    engine = get_engine(url)
    with engine.begin() as conn:
        for start in range(0, len(entries), 20000):
            conn.execute(insert(EntryRow), entries[start : start + 20000])
    with engine.begin() as conn:
        # Fresh statistics, as autovacuum would have them on a live database: without them
        # PostgreSQL plans for a tiny table and scans it per chunk.
        conn.execute(text("ANALYZE entries"))
    return len(entries)


def contacts(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("name,email,city\n")
        for i in range(rows):
            email = "not an address" if i % 100 == 99 else address(i)
            out.write(f"Contact {i},{email},Berlin\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="scratch database (default: a temp SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        upgrade(url)
        entries = fill(url, args.rows)
        source, report = Path(tmp) / "contacts.csv", Path(tmp) / "report.csv"
        contacts(source, args.rows)
        env = dict(os.environ, BOUNCE_WORKER_DATABASE_URL=url, BOUNCE_WORKER_SECRET_KEY=SECRET,
                   BOUNCE_WORKER_HOME=tmp)  # fmt: skip
        cmd = [sys.executable, "-m", "bounce_worker.cli", "check-import", str(source),
               "--organization", ORG, "--list", "news", "-o", str(report)]  # fmt: skip
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (
            cpu_before.ru_utime + cpu_before.ru_stime
        )
        if done.returncode != 0:
            sys.exit(f"check-import failed: {done.stderr.strip()}")
        database = url.split(":", 1)[0].split("+", 1)[0]
        print(done.stdout.strip().rsplit(";", 1)[0])
        print(f"check-import: {args.rows:,} rows against {entries:,} entries on {database}: "
              f"{seconds:.2f} s ({args.rows / seconds:,.0f} rows/s)")  # fmt: skip
        # The machine may be shared: the command's own CPU time and the load say how much.
        print(f"  command CPU time {cpu:.2f} s; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} CPUs")  # fmt: skip


if __name__ == "__main__":
    main()
