"""Settings from the environment, read in one place.

With no variable set, everything runs with no server: a SQLite database and kombu's
SQLAlchemy transport on a second SQLite file, both under BOUNCE_WORKER_HOME.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from bounce_worker.domain.policy import PolicySettings

PREFIX = "BOUNCE_WORKER_"


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    broker_url: str
    queue: str
    policy: PolicySettings
    unlock_hour: int
    unlock_minute: int
    timezone: str
    organization_header: str
    retention: timedelta
    max_message_bytes: int
    batch_size: int
    visibility_timeout: int
    secret_key: str | None
    log_format: str
    # Nightly jobs (README "Nightly jobs"): wall-clock times in `timezone`, rows per batch.
    recalculate_at: tuple[int, int] = (3, 30)
    housekeeping_at: tuple[int, int] = (4, 0)
    job_batch_size: int = 10_000
    job_workers: int = 2  # parallel batches on PostgreSQL (database connections)
    # One-event messages a worker applies together (README "Throughput"): at most this many
    # per transaction, after at most this many seconds in the worker's buffer.
    event_group_size: int = 32
    event_group_wait: float = 0.05

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")


def _get(name: str, default: str) -> str:
    return os.environ.get(PREFIX + name, "").strip() or default


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = _get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{PREFIX}{name} must be at least {minimum}, got {value}")
    return value


def _ladder(raw: str) -> tuple[int, ...]:
    try:
        days = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{PREFIX}LADDER_DAYS must look like 1,2,3,90; got {raw!r}") from None
    if not days or any(d <= 0 for d in days):
        raise ConfigError(f"{PREFIX}LADDER_DAYS must be positive days, got {raw!r}")
    return days


def _clock(raw: str, name: str = "UNLOCK_AT") -> tuple[int, int]:
    hour, _, minute = raw.partition(":")
    try:
        h, m = int(hour), int(minute or 0)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be HH:MM, got {raw!r}") from None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ConfigError(f"{PREFIX}{name} must be HH:MM, got {raw!r}")
    return h, m


def load_settings() -> Settings:
    home = Path(_get("HOME", ".bounce-worker")).expanduser().resolve()
    hour, minute = _clock(_get("UNLOCK_AT", "03:00"))
    log_format = _get("LOG_FORMAT", "text")
    if log_format not in {"text", "json"}:
        raise ConfigError(f"{PREFIX}LOG_FORMAT must be text or json, got {log_format!r}")
    return Settings(
        home=home,
        database_url=_get("DATABASE_URL", f"sqlite:///{home}/bounce-worker.sqlite3"),
        broker_url=_get("BROKER_URL", f"sqla+sqlite:///{home}/broker.sqlite3"),
        queue=_get("QUEUE", "bounce_worker"),
        policy=PolicySettings(
            ladder_days=_ladder(_get("LADDER_DAYS", "1,2,3,90")),
            soft_bounce_limit=_int("SOFT_BOUNCE_LIMIT", 5, minimum=1),
            quiet_period=timedelta(days=_int("QUIET_PERIOD_DAYS", 90, minimum=1)),
        ),
        unlock_hour=hour,
        unlock_minute=minute,
        timezone=_get("TIMEZONE", "UTC"),
        organization_header=_get("ORGANIZATION_HEADER", "X-Organization"),
        retention=timedelta(days=_int("RETENTION_DAYS", 90, minimum=1)),
        max_message_bytes=_int("MAX_MESSAGE_BYTES", 10 * 1024 * 1024, minimum=1024),
        batch_size=_int("BATCH_SIZE", 500, minimum=1),
        # Seconds before Redis hands an unacknowledged message to another worker: above the
        # longest task's hard time limit (celeryconfig), so no live task is ever run twice.
        visibility_timeout=_int("VISIBILITY_TIMEOUT", 3600, minimum=1),
        secret_key=os.environ.get(PREFIX + "SECRET_KEY") or None,
        log_format=log_format,
        recalculate_at=_clock(_get("RECALCULATE_AT", "03:30"), "RECALCULATE_AT"),
        housekeeping_at=_clock(_get("HOUSEKEEPING_AT", "04:00"), "HOUSEKEEPING_AT"),
        job_batch_size=_int("JOB_BATCH_SIZE", 10_000, minimum=1),
        job_workers=_int("JOB_WORKERS", 2, minimum=1),
        event_group_size=_int("EVENT_GROUP_SIZE", 32, minimum=1),
        event_group_wait=_int("EVENT_GROUP_WAIT_MS", 50, minimum=1) / 1000,
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings; tests call `settings.cache_clear()` after changing env."""
    s = load_settings()
    if s.embedded or s.broker_url.startswith("sqla+sqlite"):
        s.home.mkdir(parents=True, exist_ok=True)
    return s
