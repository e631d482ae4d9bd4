"""Robinson lists: external do-not-contact lists, stored as SHA-256 digests

`bounce-worker robinson import FILE --name NAME [--organization ORG]` fills them; checks,
the import check and the contact card consult them (robinson.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "robinson_lists",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("organization", sa.String(length=255), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_robinson_lists")),
        sa.UniqueConstraint("organization", "name", name="uq_robinson_lists_organization"),
    )
    op.create_table(
        "robinson_entries",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("list_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["robinson_lists.id"],
            name=op.f("fk_robinson_entries_list_id_robinson_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", "list_id", name=op.f("pk_robinson_entries")),
    )
    op.create_index(
        op.f("ix_robinson_entries_list_id"), "robinson_entries", ["list_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_robinson_entries_list_id"), table_name="robinson_entries")
    op.drop_table("robinson_entries")
    op.drop_table("robinson_lists")
