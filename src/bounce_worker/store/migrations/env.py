"""Alembic environment: the URL comes from bounce_worker's settings, not from a file."""

from __future__ import annotations

from alembic import context

from bounce_worker.store.db import get_engine
from bounce_worker.store.models import Base

url: str = context.config.attributes["url"]
engine = get_engine(url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER on SQLite needs batch mode
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
