"""Health probes shared by `bounce-worker health` and the metrics exporter.

Each probe either returns a short description of what answered or raises HealthError with
a one-line reason. Timeouts are short: a probe that hangs is as bad as one that fails, and
the compose healthchecks give each run a few seconds only.
"""

from __future__ import annotations

from kombu import Connection
from kombu.exceptions import ChannelError
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bounce_worker.store.db import get_engine, normalize_url
from bounce_worker.store.migrate import is_current


class HealthError(Exception):
    """A component that did not answer; the message is the one-line reason."""


def probe_engine(url: str, timeout: float) -> Engine:
    """An engine that gives up connecting after `timeout` seconds (PostgreSQL)."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.update_query_dict({"connect_timeout": str(max(1, round(timeout)))})
    return get_engine(parsed.render_as_string(hide_password=False))


def check_database(url: str, timeout: float) -> str:
    try:
        engine = probe_engine(url, timeout)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = is_current(url)
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise HealthError(f"database unreachable: {first}") from None
    if not current:
        raise HealthError("database schema is not current: run `bounce-worker db upgrade`")
    return "database"


def broker_connection(timeout: float) -> Connection:
    """A connected broker connection, or the transport's error after one quick try."""
    from bounce_worker.celery_app import app

    conn = app.connection_for_read(connect_timeout=timeout)
    try:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except BaseException:
        conn.release()
        raise
    return conn


def check_broker(timeout: float) -> str:
    try:
        with broker_connection(timeout) as conn:
            conn.default_channel  # noqa: B018 - opening a channel talks to the server
    except Exception as exc:  # kombu raises the transport's own errors
        raise HealthError(f"broker unreachable: {_one_line(exc)}") from None
    return "broker"


def check_workers(timeout: float, name: str | None = None) -> str:
    """At least one worker (or the named one) answers a ping within `timeout` seconds."""
    from bounce_worker.celery_app import app

    try:
        # limit=1: the first answer is enough, so a healthy check returns at once instead of
        # waiting out the timeout for every worker on the broker.
        replies = app.control.ping(destination=[name] if name else None, timeout=timeout, limit=1)
    except Exception as exc:
        raise HealthError(f"worker ping failed: {_one_line(exc)}") from None
    names = sorted(n for reply in replies for n in reply)
    if not names:
        who = f"worker {name} did not answer" if name else "no worker answered"
        raise HealthError(f"{who} a ping within {timeout:g}s")
    return f"worker {names[0]}"


def queue_depth(queue: str, timeout: float) -> int:
    """Messages waiting on `queue` (not counting those a worker has prefetched)."""
    with broker_connection(timeout) as conn:
        try:
            return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)
        except ChannelError:
            return 0  # Redis drops an empty list's key: no queue yet means nothing waiting


def _one_line(exc: BaseException) -> str:
    text_ = str(exc).strip() or type(exc).__name__
    return text_.splitlines()[0]
