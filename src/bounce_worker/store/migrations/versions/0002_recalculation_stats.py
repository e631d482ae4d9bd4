"""recalculation stats: per organization and channel, the nightly counts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bounce_worker.store.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recalculation_stats",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "computed_at", bounce_worker.store.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("organization", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("active", sa.BigInteger(), nullable=False),
        sa.Column("temporarily_blocked", sa.BigInteger(), nullable=False),
        sa.Column("blacklisted", sa.BigInteger(), nullable=False),
        sa.Column("blocked", sa.BigInteger(), nullable=False),
        sa.Column("lost", sa.BigInteger(), nullable=False),
        sa.Column("never_sent", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recalculation_stats")),
        sa.UniqueConstraint(
            "computed_at", "organization", "channel", name="uq_recalculation_stats_run"
        ),
    )
    with op.batch_alter_table("recalculation_stats", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recalculation_stats_computed_at"), ["computed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recalculation_stats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recalculation_stats_computed_at"))
    op.drop_table("recalculation_stats")
