"""``banli org units|roles|mobile``: the acts of the pages from the terminal, as ``--as LOGIN``,
checked against that person's scope and recorded on the admin chain."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import setup_engine
from tests.org.helpers import admin_events, chains_intact
from workflow.cli import main
from workflow.store.models import Unit, User


def banli(db, *args: str):
    url = db.url.render_as_string(hide_password=False)
    return CliRunner().invoke(main, ["--db", url, "org", *args])


def test_units_from_the_terminal(db, clock):
    setup_engine(db, clock)
    listed = banli(db, "units", "list", "--as", "linxiaoyan")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == ["finance  财务部  [department]  4 people"]
    made = banli(db, "units", "create", "audit", "审计部", "--parent", "hq", "--as", "zhouwei")
    assert made.exit_code == 0, made.output
    assert banli(db, "units", "rename", "audit", "审计监察部", "--as", "zhouwei").exit_code == 0
    assert banli(db, "units", "move", "audit", "finance", "--as", "zhouwei").exit_code == 0
    assert banli(db, "units", "close", "audit", "--as", "zhouwei").exit_code == 0
    tree = banli(db, "units", "list", "--as", "zhouwei").stdout
    assert "    audit  审计监察部  [department]  0 people  closed" in tree
    busy = banli(db, "units", "close", "finance", "--as", "zhouwei")
    assert busy.exit_code == 1
    assert "4 people are still in it (钱学军 first)" in busy.stderr
    outside = banli(db, "units", "rename", "hr", "人事部", "--as", "linxiaoyan")
    assert (
        outside.exit_code == 1
        and "林晓燕 may not administer people and units in 人力资源部" in outside.stderr
    )
    dup = banli(db, "units", "create", "hr", "人事部", "--parent", "hq", "--as", "zhouwei")
    assert dup.exit_code == 1 and "hr is already the code of 人力资源部" in dup.stderr
    assert banli(db, "units", "list", "--as", "nobody").exit_code == 1
    kinds = [e.kind for e in admin_events(db)]
    assert kinds == ["unit_create", "unit_rename", "unit_move", "unit_close"]
    chains_intact(db)


def test_heads_roles_and_mobile_from_the_terminal(db, clock):
    setup_engine(db, clock)
    assert banli(db, "units", "head", "finance", "mali", "--as", "zhouwei").exit_code == 0
    granted = banli(db, "roles", "grant", "finance", "huangyong", "clerk", "--as", "linxiaoyan")
    assert granted.exit_code == 0 and "huangyong now holds clerk in finance" in granted.stdout
    listed = banli(db, "roles", "list", "--unit", "finance", "--as", "linxiaoyan").stdout
    assert "clerk  收文人员  Document clerk" in listed
    assert "finance  clerk  黄勇" in listed and "finance  unit_head  马丽" in listed
    typo = banli(db, "roles", "grant", "finance", "huangyong", "clrek", "--as", "zhouwei")
    assert typo.exit_code == 1 and "role: names no role the approval types assign by" in typo.stderr
    assert (
        banli(db, "roles", "revoke", "finance", "huangyong", "clerk", "--as", "zhouwei").exit_code
        == 0
    )
    assert (
        banli(db, "units", "head", "finance", "mali", "--unset", "--as", "zhouwei").exit_code == 0
    )
    changed = banli(db, "mobile", "set", "huangyong", "+86 136 1234 5678", "--as", "linxiaoyan")
    assert changed.exit_code == 0 and "13612345678" in changed.stdout
    refused = banli(db, "mobile", "set", "songjia", "13612345679", "--as", "linxiaoyan")
    assert refused.exit_code == 1
    with db.read() as s:
        assert s.scalar(select(User.mobile).where(User.login == "huangyong")) == "13612345678"
        assert s.scalar(select(Unit.closed_at).where(Unit.code == "finance")) is None
    kinds = [e.kind for e in admin_events(db)]
    assert kinds == [
        "role_grant",
        "role_grant",
        "role_revoke",
        "role_revoke",
        "mobile_change_admin",
    ]
    chains_intact(db)
