"""partial indexes: only the rows their queries look for

The nightly unlock rewrites each due entry and adds a transition; every index that takes the
new row version costs an insertion and its WAL. Two indexes held rows no query asks them for:

- due temporary blocks were found through (state, blocked_until), which also took every
  active, blacklisted and blocked entry (blocked_until NULL). Now (blocked_until) over the
  temporarily blocked entries only, so an unlocked entry's new version is not added to it.
- transitions by event_id took the NULL event id of every unlock and manual change; only
  transitions that an event caused are indexed now (`event_id = ...` implies NOT NULL).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TEMPORARILY_BLOCKED = sa.text("state = 'temporarily_blocked'")
HAS_EVENT = sa.text("event_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entries_temporarily_blocked_until",
            ["blocked_until"],
            unique=False,
            postgresql_where=TEMPORARILY_BLOCKED,
            sqlite_where=TEMPORARILY_BLOCKED,
        )
        batch_op.drop_index("ix_entries_state_blocked_until")
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_transitions_event_id")
        batch_op.create_index(
            "ix_transitions_event_id",
            ["event_id"],
            unique=False,
            postgresql_where=HAS_EVENT,
            sqlite_where=HAS_EVENT,
        )


def downgrade() -> None:
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_transitions_event_id")
        batch_op.create_index("ix_transitions_event_id", ["event_id"], unique=False)
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entries_state_blocked_until", ["state", "blocked_until"], unique=False
        )
        batch_op.drop_index("ix_entries_temporarily_blocked_until")
