"""contact links: one person's addresses across channels

An event or a manual entry may carry the sending platform's contact id: it links the
address (or phone) to that contact within its organization. With the organization's
cross-channel option (BOUNCE_WORKER_CROSS_CHANNEL_ORGANIZATIONS), a complaint or an
unsubscribe on one channel then suppresses the contact's other channels too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contact_links",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("organization", sa.String(255), nullable=False),
        sa.Column("contact_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("display_address", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contact_links"),
        sa.UniqueConstraint(
            "organization",
            "contact_id",
            "channel",
            "address",
            name="uq_contact_links_organization",
        ),
    )
    op.create_index(
        "ix_contact_links_address", "contact_links", ["channel", "address", "organization"]
    )


def downgrade() -> None:
    op.drop_index("ix_contact_links_address", table_name="contact_links")
    op.drop_table("contact_links")
