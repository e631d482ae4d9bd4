"""How long one Prometheus scrape of `bounce-worker metrics` takes on a large entries table.

    python bench/metrics_scrape.py                       # 1,000,000 entries, 5 scrapes
    python bench/metrics_scrape.py --entries 1000 --scrapes 1    # smoke run

Creates a throwaway PostgreSQL database (TEST_PG_ADMIN_URL, default the local server), fills
`entries` with a realistic mix of states in one set-based INSERT, and times the exporter's
collector (the GROUP BY over entries, the waiting dead letters, the queue depth on Redis,
TEST_REDIS_URL). Prints the median and the worst scrape in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

import psycopg

ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

FILL = """
INSERT INTO entries (channel, address, display_address, scope, organization, list, state,
                     reason, temp_block_count, soft_bounce_count, updated_at)
SELECT CASE WHEN i %% 10 = 0 THEN 'sms' ELSE 'email' END,
       'user' || i || '@example.org', 'user' || i || '@example.org',
       CASE WHEN i %% 3 = 0 THEN 'organization' ELSE 'global' END,
       CASE WHEN i %% 3 = 0 THEN 'org' || (i %% 50) ELSE '' END, '',
       (ARRAY['active','active','temporarily_blocked','blacklisted','blocked'])[1 + i %% 5],
       'bench', 0, 0, now()
FROM generate_series(1, %(n)s) AS i
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--scrapes", type=int, default=5)
    args = parser.parse_args()

    name = f"bw_bench_{uuid.uuid4().hex[:8]}"
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    os.environ.update(BOUNCE_WORKER_DATABASE_URL=url, BOUNCE_WORKER_BROKER_URL=REDIS)
    os.environ["BOUNCE_WORKER_QUEUE"] = f"{name}-queue"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        run(url, args.entries, args.scrapes)
    finally:
        from bounce_worker.store.db import dispose_all

        dispose_all()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, entries: int, scrapes: int) -> None:
    from bounce_worker.config import settings
    from bounce_worker.observability.exporter import DomainCollector
    from bounce_worker.store.migrate import upgrade

    upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FILL, {"n": entries})
        conn.execute("ANALYZE entries")
    collector = DomainCollector(settings())
    times = []
    for _ in range(scrapes):
        start = time.perf_counter()
        families = list(collector.collect())
        times.append((time.perf_counter() - start) * 1000)
    series = sum(len(f.samples) for f in families)
    print(
        f"scrape of {entries:,} entries ({series} series): "
        f"median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms "
        f"over {scrapes} scrapes"
    )


if __name__ == "__main__":
    main()
