"""`bounce-worker db upgrade`: apply the Alembic migrations."""

from __future__ import annotations

import argparse
from typing import Any

from bounce_worker.config import settings
from bounce_worker.store.migrate import upgrade


def register(sub: Any) -> None:
    parser = sub.add_parser("db", help="database schema (Alembic migrations)")
    db_sub = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser(
        "upgrade",
        help="apply every pending migration (safe to re-run)",
        description="Apply every pending Alembic migration to BOUNCE_WORKER_DATABASE_URL "
        "(safe to re-run; the embedded SQLite database also migrates itself).",
    )
    up.add_argument(
        "--revision", default="heads", help="target revision (default: heads, the newest)"
    )
    up.set_defaults(func=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    url = settings().database_url
    upgrade(url, args.revision)
    print(f"database at {args.revision}: {_safe(url)}")
    return 0


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
