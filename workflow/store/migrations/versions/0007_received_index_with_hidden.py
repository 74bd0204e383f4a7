"""received messages' index carries hidden: the list's count reads the index alone

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RECIPIENT = sa.text("role = 'recipient'")


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_received")
        batch_op.create_index(
            "ix_work_items_received", ["user_id", "hidden", "id"], unique=False,
            sqlite_where=RECIPIENT, postgresql_where=RECIPIENT,
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_received")
        batch_op.create_index(
            "ix_work_items_received", ["user_id", "id"], unique=False,
            sqlite_where=RECIPIENT, postgresql_where=RECIPIENT,
        )  # fmt: skip
