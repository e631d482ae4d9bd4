"""The one place that reads the clock; everything below the entry points takes `now`."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
