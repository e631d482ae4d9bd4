"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, Index, inspect

from bounce_worker.store.models import Base


def test_migrated_schema_matches_the_models(any_engine: Engine) -> None:
    with any_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def _predicate(where: object) -> str | None:
    """An index predicate without the casts, parentheses and spaces each database adds."""
    if where is None:
        return None
    spelled = getattr(where, "text", where)
    return re.sub(r"::\w+|[()\s]", "", str(spelled))


def test_partial_indexes_have_the_models_predicates(any_engine: Engine) -> None:
    # compare_metadata does not look at WHERE clauses of partial indexes.
    dialect = any_engine.dialect.name
    key = f"{dialect}_where"
    inspector = inspect(any_engine)
    for table in Base.metadata.sorted_tables:
        found = {i["name"]: i for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            assert isinstance(index, Index)
            reflected = found[str(index.name)].get("dialect_options", {}).get(key)
            wanted = index.dialect_options[dialect]["where"]
            assert _predicate(reflected) == _predicate(wanted), index.name
