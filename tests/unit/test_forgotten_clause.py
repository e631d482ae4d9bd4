"""The partial index of forgotten entries (migration 0010) and the clause queries use to
reach it spell the keyed hashes' prefix as domain.targets writes it."""

from __future__ import annotations

import importlib

from bounce_worker.domain.targets import FORGOTTEN_PREFIX
from bounce_worker.store.models import FORGOTTEN


def test_forgotten_clause_matches_the_prefix() -> None:
    wanted = f"substr(address, 1, {len(FORGOTTEN_PREFIX)}) = '{FORGOTTEN_PREFIX}'"
    assert FORGOTTEN.text == wanted
    migration = importlib.import_module(
        "bounce_worker.store.migrations.versions.0010_forgotten_index"
    )
    assert migration.FORGOTTEN.text == wanted
