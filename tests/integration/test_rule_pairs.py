"""Rules written twice, once in Python and once in SQL, run on the same rows and agree.

Each pair sits side by side in the code: `policy.unlock_due` with `policy.UNLOCK_DUE_SQL`
(the nightly unlock), `policy.effective_temp_block_count` with `policy.STALE_COUNT_SQL`
(housekeeping's reset), `lookup.candidate_keys` (one address, the single check) with
`Lookup.prepare` (thousands at once). Rows sit on both sides of every boundary.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from bounce_worker import jobs, lookup
from bounce_worker.domain.effective import ruling
from bounce_worker.domain.policy import PolicySettings, effective_temp_block_count, unlock_due
from bounce_worker.domain.targets import forgotten_hasher
from bounce_worker.store.models import EntryRow
from bounce_worker.store.uow import UnitOfWork
from bounce_worker.store.writer import to_entry

NOW = datetime(2026, 11, 23, 3, tzinfo=UTC)
TICK = timedelta(microseconds=1)
POLICY = PolicySettings()
STATES = ["active", "temporarily_blocked", "blacklisted", "blocked"]


def add_rows(engine: Engine, rows: list[dict[str, object]]) -> None:
    with UnitOfWork(engine) as uow:
        for n, fields in enumerate(rows):
            address = str(fields.pop("address", f"u{n}@example.org"))
            fields.setdefault("temp_block_count", 0)
            uow.session.add(
                EntryRow(
                    channel=fields.pop("channel", "email"), address=address,
                    display_address=address, scope=fields.pop("scope", "global"),
                    organization=fields.pop("organization", ""), list=fields.pop("list", ""),
                    soft_bounce_count=0, updated_at=NOW - timedelta(days=1),
                    **fields,
                )
            )  # fmt: skip
        uow.commit()


def entries(engine: Engine) -> dict[int, EntryRow]:
    with UnitOfWork(engine) as uow:
        return {row.id: row for row in uow.session.scalars(select(EntryRow))}


def test_unlock_job_unlocks_exactly_what_unlock_due_says(any_engine: Engine) -> None:
    ends = [None, NOW - timedelta(days=1), NOW - TICK, NOW, NOW + TICK, NOW + timedelta(days=1)]
    add_rows(
        any_engine,
        [{"state": s, "blocked_until": e} for s, e in itertools.product(STATES, ends)],
    )
    before = entries(any_engine)
    due = {i for i, row in before.items() if unlock_due(to_entry(row), NOW)}

    unlocked = jobs.unlock_expired(any_engine, now=NOW, batch_size=3).rows

    after = entries(any_engine)
    changed = {i for i in before if after[i].state != before[i].state}
    assert 0 < len(due) < len(before)
    assert changed == due and unlocked == len(due)
    assert all(after[i].state == "active" for i in due)


def test_housekeeping_resets_exactly_what_effective_temp_block_count_forgets(
    any_engine: Engine,
) -> None:
    quiet = POLICY.quiet_period
    ends = [None, NOW - quiet - TICK, NOW - quiet, NOW - quiet + TICK, NOW]
    add_rows(
        any_engine,
        [
            {"state": "active", "temp_block_count": count, "temp_block_last_end": end}
            for count, end in itertools.product([0, 1, 4], ends)
        ],
    )
    lazy = {
        i: effective_temp_block_count(to_entry(row), NOW, POLICY)
        for i, row in entries(any_engine).items()
    }

    jobs.housekeeping(any_engine, NOW, quiet_period=quiet, retention=timedelta(days=30))

    stored = {i: row.temp_block_count for i, row in entries(any_engine).items()}
    assert stored == lazy
    assert 0 in lazy.values() and 4 in lazy.values()


def test_one_address_lookup_and_bulk_lookup_agree(any_engine: Engine) -> None:
    secret = "test-rule-pairs"
    hashed = forgotten_hasher(secret, "email")
    add_rows(
        any_engine,
        [
            {"address": "a@one.example", "state": "blocked"},
            {"address": "b@one.example", "state": "blacklisted", "scope": "organization",
             "organization": "acme"},
            {"address": "c@one.example", "state": "blacklisted", "scope": "list",
             "organization": "acme", "list": "news"},
            {"address": hashed("d@one.example"), "state": "blocked"},
            {"address": "two.example", "channel": "domain", "state": "blocked"},
            {"address": "e@two.example", "state": "temporarily_blocked",
             "blocked_until": NOW + timedelta(days=1)},
            {"address": "f@one.example", "state": "active"},
        ],
    )  # fmt: skip
    keys = [f"{c}@{d}" for c in "abcdefg" for d in ("one.example", "two.example")]
    for org, lst in [(None, None), ("acme", None), ("acme", "news"), ("globex", "news")]:
        bulk = lookup.Lookup(any_engine, "email", secret).rulings(keys, org, lst)
        one = {}
        for key in keys:
            hits = lookup.fetch_few(any_engine, lookup.candidate_keys("email", key, hashed))
            if (hit := ruling(hits, org, lst)) is not None:
                one[key] = hit
        assert bulk == one
    assert {"a@one.example", "d@one.example", "g@two.example"} <= set(bulk)
