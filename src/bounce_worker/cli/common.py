"""What every subcommand needs: the engine (migrated), the clock, output helpers."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from sqlalchemy import Engine

from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.domain.events import InvalidEvent, parse_instant
from bounce_worker.store.db import get_engine
from bounce_worker.store.migrate import is_current, upgrade


class CliError(Exception):
    """A failure the user can fix; printed as one line."""


def engine() -> Engine:
    """The configured database. The embedded SQLite database migrates itself on first use;
    a server database must be migrated on purpose (`bounce-worker db upgrade`)."""
    s = settings()
    if not is_current(s.database_url):
        if not s.embedded:
            raise CliError("database schema is not current: run `bounce-worker db upgrade`")
        upgrade(s.database_url)
    return get_engine(s.database_url)


def now_arg(value: str | None) -> datetime:
    if value is None:
        return utcnow()
    try:
        return parse_instant(value, "--now")
    except InvalidEvent as exc:
        raise CliError(str(exc)) from None


def instant(value: str) -> str:
    """argparse type: validates an ISO 8601 instant early, with a one-line message."""
    try:
        parse_instant(value, "time")
    except InvalidEvent as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
