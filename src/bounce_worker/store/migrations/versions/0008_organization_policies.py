"""organization policies: an account's soft-bounce limit and ladder (org_policy.py)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_policies",
        sa.Column("organization", sa.String(length=255), nullable=False),
        sa.Column("soft_bounce_limit", sa.Integer(), nullable=True),
        sa.Column("ladder_days", sa.String(length=255), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("organization", name=op.f("pk_organization_policies")),
    )


def downgrade() -> None:
    op.drop_table("organization_policies")
