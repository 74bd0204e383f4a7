"""organisation: enrolment, invitations, mobile changes, administrators with scopes, presence,
directory search and privacy; the unit a work item's person was in when it was made

Data: the one-time role ``admin`` becomes the main administrator (the first such active person;
the role is gone after this), every name gets its pinyin, every work item the unit its person
is in now (the best that is known for items made before this revision).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 21:52:17
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import workflow.store.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_counts",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_table(
        "admin_grants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("capability", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "granted_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("granted_at", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["granted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "capability", "unit_id"),
    )
    with op.batch_alter_table("admin_grants", schema=None) as batch_op:
        batch_op.create_index("ix_admin_grants_user", ["user_id"], unique=False)

    op.create_table(
        "invitations",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", workflow.store.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index("ix_invitations_user", ["user_id"], unique=False)

    op.create_table(
        "main_admin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("since", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "mobile_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("new_mobile", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", workflow.store.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mobile_changes", schema=None) as batch_op:
        batch_op.create_index("ix_mobile_changes_user", ["user_id"], unique=False)

    op.create_table(
        "mobile_viewers",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("user_id", "unit_id"),
    )
    op.create_table(
        "org_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column(
            "updated_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("updated_at", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "presence_days",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("first_at", workflow.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("user_id", "day"),
    )
    with op.batch_alter_table("presence_days", schema=None) as batch_op:
        batch_op.create_index("ix_presence_days_day", ["day", "user_id"], unique=False)

    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("closed_at", workflow.store.models.UtcDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pinyin", sa.String(length=400), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("initials", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "mobile_hidden", sa.Boolean(), server_default=sa.text("(false)"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("created_at", workflow.store.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("removed_at", workflow.store.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "removed_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "last_seen_at", workflow.store.models.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_index("ix_users_initials", ["initials"], unique=False)
        batch_op.create_index(
            "ix_users_mobile",
            ["mobile"],
            unique=True,
            sqlite_where=sa.text("status <> 'removed' AND mobile IS NOT NULL"),
            postgresql_where=sa.text("status <> 'removed' AND mobile IS NOT NULL"),
        )
        batch_op.create_index("ix_users_pinyin", ["pinyin"], unique=False)
        batch_op.create_index("ix_users_unit", ["unit_id"], unique=False)
        batch_op.create_foreign_key("fk_users_removed_by", "users", ["removed_by"], ["id"])

    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_foreign_key("fk_work_items_unit", "units", ["unit_id"], ["id"])

    _data()


def _data() -> None:
    from datetime import UTC, datetime

    from workflow.org.names import name_keys

    bind = op.get_bind()
    now = datetime.now(UTC)
    first = bind.execute(sa.text(
        "SELECT r.user_id FROM role_memberships r JOIN users u ON u.id = r.user_id "
        "WHERE r.role = 'admin' AND u.status = 'active' ORDER BY r.user_id LIMIT 1"
    )).scalar()  # fmt: skip
    if first is not None:
        insert = sa.text("INSERT INTO main_admin (id, user_id, since) VALUES (1, :u, :t)")
        since = sa.bindparam("t", type_=workflow.store.models.UtcDateTime())
        bind.execute(insert.bindparams(since), {"u": first, "t": now})
    bind.execute(sa.text("DELETE FROM role_memberships WHERE role = 'admin'"))
    for user_id, name in bind.execute(sa.text("SELECT id, name FROM users")).all():
        pinyin, initials = name_keys(name)
        bind.execute(
            sa.text("UPDATE users SET pinyin = :p, initials = :i WHERE id = :u"),
            {"p": pinyin, "i": initials, "u": user_id},
        )
    bind.execute(sa.text(
        "UPDATE work_items SET unit_id = (SELECT unit_id FROM users WHERE users.id = work_items.user_id)"
    ))  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_constraint("fk_work_items_unit", type_="foreignkey")
        batch_op.drop_column("unit_id")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("fk_users_removed_by", type_="foreignkey")
        batch_op.drop_index("ix_users_unit")
        batch_op.drop_index("ix_users_pinyin")
        batch_op.drop_index(
            "ix_users_mobile",
            sqlite_where=sa.text("status <> 'removed' AND mobile IS NOT NULL"),
            postgresql_where=sa.text("status <> 'removed' AND mobile IS NOT NULL"),
        )
        batch_op.drop_index("ix_users_initials")
        batch_op.drop_column("last_seen_at")
        batch_op.drop_column("removed_by")
        batch_op.drop_column("removed_at")
        batch_op.drop_column("created_at")
        batch_op.drop_column("mobile_hidden")
        batch_op.drop_column("initials")
        batch_op.drop_column("pinyin")

    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("closed_at")

    with op.batch_alter_table("presence_days", schema=None) as batch_op:
        batch_op.drop_index("ix_presence_days_day")

    op.drop_table("presence_days")
    op.drop_table("org_settings")
    op.drop_table("mobile_viewers")
    with op.batch_alter_table("mobile_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_mobile_changes_user")

    op.drop_table("mobile_changes")
    op.drop_table("main_admin")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_invitations_user")

    op.drop_table("invitations")
    with op.batch_alter_table("admin_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_admin_grants_user")

    op.drop_table("admin_grants")
    op.drop_table("rate_counts")
