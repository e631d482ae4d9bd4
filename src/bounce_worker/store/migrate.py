"""Alembic, driven from code: `bounce-worker db upgrade` needs no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bounce_worker.store.db import get_engine, normalize_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = normalize_url(url)
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


def is_current(url: str) -> bool:
    """True when the database is at the newest migration(s)."""
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    with get_engine(url).connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads
