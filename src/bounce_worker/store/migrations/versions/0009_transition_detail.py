"""transition detail: the classifier's fine reason of a bounce (domain/rules/reasons.py)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing (PostgreSQL 11+), old rows stay NULL.
    op.add_column("transitions", sa.Column("detail", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transitions") as batch:
        batch.drop_column("detail")
