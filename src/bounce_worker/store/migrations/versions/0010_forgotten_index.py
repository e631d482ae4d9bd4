"""forgotten entries: a partial index over the entries kept under a keyed hash

Two reads ask whether forgotten entries exist: `lookup.require_secret` (once a minute per
process when BOUNCE_WORKER_SECRET_KEY is unset: may a check answer at all?) and
`lookup.Lookup` (each batch check and import check with the key set: which keyed hashes
are in use?). Without an index both scanned the whole table - 94 ms of PostgreSQL's CPU at
1,000,000 entries, on the API's event loop for the single check (a stall of every request
queued meanwhile, the p99.9 of bench/api.py) and on every 10,000-address batch. This index
holds the forgotten entries only (none on most databases), so either read is a probe.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FORGOTTEN = sa.text("substr(address, 1, 5) = 'hmac:'")


def upgrade() -> None:
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entries_forgotten",
            ["channel", "address"],
            unique=False,
            postgresql_where=FORGOTTEN,
            sqlite_where=FORGOTTEN,
        )


def downgrade() -> None:
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index("ix_entries_forgotten")
