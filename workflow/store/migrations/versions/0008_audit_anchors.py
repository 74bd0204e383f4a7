"""audit anchors (daily roots over every chain's head)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import workflow.store.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_anchors",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("chains", sa.Integer(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("prev", sa.String(length=64), nullable=False),
        sa.Column("job_key", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("job_key"),
    )
    op.create_table(
        "audit_anchor_heads",
        sa.Column("anchor_seq", sa.Integer(), nullable=False),
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["anchor_seq"], ["audit_anchors.seq"]),
        sa.PrimaryKeyConstraint("anchor_seq", "chain"),
    )
    with op.batch_alter_table("audit_anchor_heads", schema=None) as batch_op:
        batch_op.create_index("ix_audit_anchor_heads_chain", ["chain", "anchor_seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_anchor_heads", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_anchor_heads_chain")
    op.drop_table("audit_anchor_heads")
    op.drop_table("audit_anchors")
