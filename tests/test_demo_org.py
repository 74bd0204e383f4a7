"""The demo organisation: its shape, its roles, and that seeding it is idempotent."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from workflow.demo_org import PEOPLE, UNITS, demo_accounts, seed_organisation
from workflow.store.db import Database
from workflow.store.models import RoleMembership, Unit, User

ROLES = (
    "unit_head", "office_director", "clerk", "archivist", "seal_keeper", "legal", "finance",
    "deputy_director", "general_manager", "hr",
)  # fmt: skip
DEFINITIONS = Path(__file__).resolve().parent.parent / "definitions"


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database("sqlite://")
    database.create_all()
    yield database
    database.dispose()


@pytest.fixture
def ids(db: Database) -> dict[str, int]:
    with db.write() as s:
        return seed_organisation(s)


def _memberships(db: Database) -> list[tuple[str, int | None, int]]:
    with db.read() as s:
        rows = s.execute(
            select(RoleMembership.role, RoleMembership.unit_id, RoleMembership.user_id)
        )
        return [tuple(row) for row in rows]


def test_counts(db: Database, ids: dict[str, int]) -> None:
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Unit)) == len(UNITS) == 9
        assert s.scalar(select(func.count()).select_from(User)) == len(PEOPLE) == len(ids)
    assert 28 <= len(ids) <= 32


def test_one_root_and_parents_exist(db: Database, ids: dict[str, int]) -> None:
    with db.read() as s:
        units = s.scalars(select(Unit)).all()
    roots = [u for u in units if u.parent_id is None]
    assert [u.code for u in roots] == ["hq"]
    assert {u.parent_id for u in units} - {None} <= {u.id for u in units}


def test_every_unit_has_exactly_one_head(db: Database, ids: dict[str, int]) -> None:
    heads = Counter(unit for role, unit, _ in _memberships(db) if role == "unit_head")
    with db.read() as s:
        unit_ids = set(s.scalars(select(Unit.id)))
    assert set(heads) == unit_ids
    assert set(heads.values()) == {1}


def test_every_role_has_a_holder(db: Database, ids: dict[str, int]) -> None:
    held = {role for role, _, _ in _memberships(db)}
    assert set(ROLES) <= held
    assert held <= set(ROLES), "a role outside the vocabulary"


def test_clerks_in_office_south_and_project1(db: Database, ids: dict[str, int]) -> None:
    with db.read() as s:
        code = dict(s.execute(select(Unit.id, Unit.code)).all())
    clerk_units = {code[unit] for role, unit, _ in _memberships(db) if role == "clerk"}
    assert clerk_units == {"office", "south", "project1"}


def test_roles_named_in_definitions_have_holders(db: Database, ids: dict[str, int]) -> None:
    held = {role for role, _, _ in _memberships(db)}
    named = {role for path in DEFINITIONS.glob("*.yaml") for role in _roles_in(_load(path))}
    assert named, "no definition names a role"
    assert named <= held


def test_names_are_real_chinese_names_and_logins_unique() -> None:
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", p.name) for p in PEOPLE)
    logins = [p.login for p in PEOPLE]
    assert len(set(logins)) == len(logins)
    assert all(re.fullmatch(r"[a-z]+", login) for login in logins)
    mobiles = [p.mobile for p in PEOPLE]
    assert len(set(mobiles)) == len(mobiles)
    assert all(re.fullmatch(r"1[3-9]\d{9}", m) for m in mobiles)


def test_seeding_twice_is_a_no_op(db: Database, ids: dict[str, int]) -> None:
    before = _memberships(db)
    with db.write() as s:
        again = seed_organisation(s)
    assert again == ids
    assert _memberships(db) == before
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(User)) == len(PEOPLE)
        assert s.scalar(select(func.count()).select_from(Unit)) == len(UNITS)


def test_passwords_are_left_unset(db: Database, ids: dict[str, int]) -> None:
    with db.read() as s:
        assert set(s.scalars(select(User.password_hash))) == {None}


def test_demo_accounts() -> None:
    accounts = demo_accounts()
    assert len(accounts) == len(PEOPLE)
    by_login = {login: (name, unit, roles) for login, name, unit, roles in accounts}
    assert by_login["wangfang"] == ("王芳", "办公室", ("clerk",))
    assert by_login["zhangjianguo"][2] == ("general_manager", "unit_head")


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def _roles_in(node: Any) -> Iterator[str]:
    """Every ``role:`` value anywhere in a loaded definition."""
    if isinstance(node, dict):
        if isinstance(node.get("role"), str):
            yield node["role"]
        for value in node.values():
            yield from _roles_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _roles_in(item)
