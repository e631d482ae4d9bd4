"""What every subcommand needs: the engine (migrated), the clock, output helpers."""

from __future__ import annotations

import argparse
import re
import socket
import sys
from collections.abc import Callable
from datetime import datetime, timedelta

from rich.console import Console
from sqlalchemy import Engine

from bounce_worker import org_policy
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.domain.events import InvalidEvent, parse_instant
from bounce_worker.store.db import get_engine
from bounce_worker.store.migrate import is_current, upgrade

TARGET_HELP = (
    "an email address (user@example.org), a domain (example.org or @example.org) or a "
    "phone number (+4915112345678: the sms channel); the same rule for every command"
)


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
    engine = get_engine(s.database_url)
    org_policy.refresh(engine)  # what `process` and `apply` apply per organization
    return engine


def now_arg(value: str | None) -> datetime:
    if value is None:
        return utcnow()
    try:
        return _instant(value)
    except InvalidEvent as exc:
        raise CliError(str(exc)) from None


def instant(value: str) -> str:
    """argparse type: validates an instant early, with a one-line message. An ISO 8601
    instant with its timezone, or an offset from the clock: +2d, -12h, +30m."""
    try:
        _instant(value)
    except InvalidEvent as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


RELATIVE = re.compile(r"([+-])(\d{1,5})([dhm])")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def _instant(value: str) -> datetime:
    if match := RELATIVE.fullmatch(value.strip()):
        sign, amount, unit = match.groups()
        offset = timedelta(**{UNITS[unit]: int(amount)})
        return utcnow() + offset if sign == "+" else utcnow() - offset
    try:
        return parse_instant(value, "time")
    except InvalidEvent:
        raise InvalidEvent(
            f"not ISO 8601 nor an offset from now: {value[:40]!r} (give e.g. "
            "2026-11-22T03:00:00Z, or +2d, -12h, +30m)"
        ) from None


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def output_console() -> Console:
    """Where tables go: the terminal's width on a terminal; piped or redirected, as wide as
    the rows need (a script or a file never gets a row cut at 80 columns)."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=100_000, soft_wrap=True, no_color=True)


def port_free(host: str, port: int) -> None:
    """Fail with one line, before a server starts, when HOST:PORT cannot be bound (another
    process listens there, or the address is not this machine's)."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(info[0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(info[4])
    except OSError as exc:
        raise CliError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (stop what listens there "
            "or pass another --port; --host must be an address of this machine)"
        ) from None


def tcp_port(value: str) -> int:
    """argparse type: a TCP port, 1 to 65535."""
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port (1-65535): {value!r}")
    return int(value)


def _named(what: str) -> Callable[[str], str]:
    """argparse type of --WHAT: a name, never blank (the message names what to do)."""

    def check(value: str) -> str:
        if not value.strip():
            raise argparse.ArgumentTypeError(f"empty: name the {what}, or leave --{what} out")
        return value

    check.__name__ = what  # argparse's "invalid <name> value" wording, were it ever used
    return check


# argparse type of every --organization: a name, never blank. `--organization "$ORG"` with
# ORG unset read as no organization: a platform-wide Robinson list or key, a check against
# the global entries only, all without a word.
organization = _named("organization")
# argparse type of every --list, for the same reason: `--list "$LIST"` with LIST unset read
# as no list, so `status --list` checked the organization's entries only (a list unsubscribe
# read active) and `suppress --scope list` or `check-import --list` lost the list.
list_name = _named("list")
