"""sign-in attempts and temporary locks

Refused sign-ins are recorded for administrators (``sign_in_attempts``); failures are counted
per account and per network address (``sign_in_throttles``), so the growing delay and the
temporary lock hold across every web worker.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 19:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import workflow.store.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("login", sa.String(length=200), nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_attempts_at", ["at"], unique=False)
    op.create_table(
        "sign_in_throttles",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_at", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_throttles")
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_attempts_at")
    op.drop_table("sign_in_attempts")
