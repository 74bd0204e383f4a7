"""workbench indexes: copies to read (传阅) get a partial index; done items carry their id

Every workbench tab is served by an index on its own predicate, in its own order:
to do by ix_work_items_open, done by ix_work_items_done (now with the item id, the
tie-break of its order, and only handled items), circulated by the new ix_work_items_reader,
started by ix_flows_initiator. Counting a tab reads its index alone: each carries its
predicate's columns (status, role), without which SQLite reads the table row of every entry.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

NOT_MESSAGE = "role NOT IN ('sender', 'recipient')"
OPEN = sa.text(f"status = 'open' AND {NOT_MESSAGE}")
DONE = sa.text(f"handled_at IS NOT NULL AND {NOT_MESSAGE}")
READER = sa.text("role = 'reader'")


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_open")
        batch_op.create_index(
            "ix_work_items_open", ["user_id", "id", "status", "role"], unique=False,
            sqlite_where=OPEN, postgresql_where=OPEN,
        )  # fmt: skip
        batch_op.drop_index("ix_work_items_done")
        batch_op.create_index(
            "ix_work_items_done", ["user_id", "handled_at", "id", "role"], unique=False,
            sqlite_where=DONE, postgresql_where=DONE,
        )  # fmt: skip
        batch_op.create_index(
            "ix_work_items_reader", ["user_id", "id", "role"], unique=False,
            sqlite_where=READER, postgresql_where=READER,
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_reader")
        batch_op.drop_index("ix_work_items_open")
        batch_op.create_index(
            "ix_work_items_open", ["user_id", "id"], unique=False,
            sqlite_where=OPEN, postgresql_where=OPEN,
        )  # fmt: skip
        batch_op.drop_index("ix_work_items_done")
        batch_op.create_index(
            "ix_work_items_done", ["user_id", "handled_at"], unique=False,
            sqlite_where=sa.text(NOT_MESSAGE), postgresql_where=sa.text(NOT_MESSAGE),
        )  # fmt: skip
