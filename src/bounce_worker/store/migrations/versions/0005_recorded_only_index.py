"""recorded-only feedback: a partial index over its history rows, for `stats`

Unverified and unattributed feedback (SPEC 7) changes no state; it leaves a history row
with the reason `unverified` or `unattributed`. `bounce-worker stats` and GET /v1/stats
count those rows (in total and over the last 24 hours) through this index, which holds
nothing else, so the count stays cheap however long the history gets.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

RECORDED_ONLY = sa.text("reason = 'unverified' OR reason = 'unattributed'")


def upgrade() -> None:
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transitions_recorded_only",
            ["reason", "recorded_at"],
            unique=False,
            postgresql_where=RECORDED_ONLY,
            sqlite_where=RECORDED_ONLY,
        )


def downgrade() -> None:
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_transitions_recorded_only")
