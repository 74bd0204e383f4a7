"""Importing HR's sheet (workflow/org/importing.py, sheets.py): the dry run row by row, the
confirmed plan applied once, the same sheet twice changing nothing, a plan gone stale."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from tests.conftest import setup_engine
from tests.engine.test_concurrency import SafeClock
from tests.test_org_people import BASE, chain_ok
from workflow.errors import Conflict, Forbidden, InvalidAction
from workflow.org import importing
from workflow.org import people as org_people
from workflow.store.models import RoleMembership, User

HEADER = ["姓名", "手机", "邮箱", "部门", "职务", "角色"]
HIRES = [
    ["赵一鸣", "13812340001", "zym@hdjs.example.com", "finance", "会计", "finance"],
    ["钱二丫", "138-1234-0002", "", "财务部", "出纳", ""],
    ["孙三强", "+86 13812340003", "", "legal", "法务专员", "legal"],
    ["李四海", "12345", "", "engineering", "工程师", ""],  # a bad number
    ["周五洲", "13812340005", "", "nowhere", "", ""],  # an unknown unit
]


def xlsx(rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows, header=HEADER, encoding="utf-8-sig") -> bytes:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def plan(engine, actor, data, name="hires.xlsx"):
    return importing.plan_import(engine.db, actor, data, name)


def apply(engine, actor, data, digest, name="hires.xlsx"):
    return importing.apply_import(engine.db, actor, data, name, digest, engine.clock(),
                                  base_url=BASE)  # fmt: skip


def test_the_dry_run_says_what_each_row_would_do_and_writes_nothing(engine, people):
    shown = plan(engine, people["fenglei"], xlsx(HIRES))
    assert [(r.number, r.action) for r in shown.rows] == [
        (2, "create"), (3, "create"), (4, "create"), (5, "refused"), (6, "refused")]  # fmt: skip
    assert [r.login for r in shown.rows[:3]] == ["zhaoyiming", "qianerya", "sunsanqiang"]
    assert [(c, p.code) for c, p in shown.rows[3].reasons] == [("mobile", "person_mobile_invalid")]
    assert [(c, p.code) for c, p in shown.rows[4].reasons] == [("unit", "field_no_unit")]
    assert shown.counts == {"create": 3, "change": 0, "unchanged": 0, "refused": 2}
    with engine.db.read() as s:
        assert s.scalar(select(User.id).where(User.name == "赵一鸣")) is None
    assert chain_ok(engine) == []


def test_apply_creates_invites_and_the_same_sheet_again_changes_nothing(engine, people):
    data = xlsx(HIRES)
    shown = plan(engine, people["fenglei"], data)
    done = apply(engine, people["fenglei"], data, shown.digest)
    assert [login for _id, login, _n, _l in done.invited] == ["zhaoyiming", "qianerya",
                                                             "sunsanqiang"]  # fmt: skip
    with engine.db.read() as s:
        row = s.execute(select(User).where(User.login == "zhaoyiming")).scalar_one()
        assert (row.status, row.mobile, row.email) == (
            "invited",
            "13812340001",
            "zym@hdjs.example.com",
        )
        assert s.scalar(select(User.mobile).where(User.login == "sunsanqiang")) == "13812340003"
        roles = s.scalars(select(RoleMembership.role).where(RoleMembership.user_id == row.id))
        assert list(roles) == ["finance"]
    kinds = [k for k, _ in chain_ok(engine)]
    assert kinds == ["person_enrol"] * 3 + ["person_import"]
    # a double click: the same confirmation again is recognised, nothing more is written
    again = apply(engine, people["fenglei"], data, shown.digest)
    assert again.already and again.invited == []
    # the same sheet a second time: every good row unchanged
    second = plan(engine, people["fenglei"], data)
    assert [r.action for r in second.rows] == ["unchanged"] * 3 + ["refused"] * 2
    apply(engine, people["fenglei"], data, second.digest)
    assert [k for k, _ in chain_ok(engine)] == [*kinds, "person_import"]


def test_a_changed_row_shows_old_and_new_and_is_applied(engine, people):
    rows = [["马丽", "13601740004", "mali@new.example.com", "finance", "出纳主管", "finance"]]
    shown = plan(engine, people["linxiaoyan"], csv_bytes(rows), "hr.csv")
    (row,) = shown.rows
    assert row.action == "change" and row.user_id == people["mali"]
    assert row.changes == [("email", "mali@hdjs.example.com", "mali@new.example.com"),
                           ("post", "出纳", "出纳主管"), ("roles", [], ["finance"])]  # fmt: skip
    apply(engine, people["linxiaoyan"], csv_bytes(rows), shown.digest, "hr.csv")
    (_kind, data), _summary = chain_ok(engine)
    assert data["before"]["post"] == "出纳" and data["after"]["roles"] == ["finance"]
    assert plan(engine, people["linxiaoyan"], csv_bytes(rows), "hr.csv").rows[0].action == (
        "unchanged")  # fmt: skip


def test_a_plan_gone_stale_is_refused_and_nothing_is_written(engine, people):
    data = xlsx(HIRES)
    shown = plan(engine, people["fenglei"], data)
    org_people.enrol(engine.db, people["fenglei"], {"name": "赵一鸣", "mobile": "13812340001",
                 "unit": "finance"}, engine.clock(), base_url=BASE)  # fmt: skip
    with pytest.raises(Conflict) as stale:
        apply(engine, people["fenglei"], data, shown.digest)
    assert stale.value.code == "import_changed"
    assert [k for k, _ in chain_ok(engine)] == ["person_enrol"]
    fresh = plan(engine, people["fenglei"], data)
    assert fresh.rows[0].action == "change"  # e-mail, post and role the enrolment lacked


def test_scope_and_sheet_level_refusals(engine, people):
    rows = [HIRES[0], HIRES[2], ["王芳", "13901720002", "", "office", "", ""],
            ["赵一鸣", "13812340001", "", "finance", "", ""]]  # fmt: skip
    shown = plan(engine, people["linxiaoyan"], xlsx(rows))
    reasons = [[(c, p.code) for c, p in r.reasons] for r in shown.rows]
    assert reasons == [
        [("mobile", "import_mobile_twice")],
        [("unit", "person_unit_out_of_scope")],
        [("unit", "person_unit_out_of_scope"), ("mobile", "person_mobile_in_use")],
        [("mobile", "import_mobile_twice")],
    ]
    with pytest.raises(Forbidden):
        plan(engine, people["wangfang"], xlsx(rows))


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"x" * (2 * 1024 * 1024 + 1), "big.csv", "import_too_large"),
        (b"PK\x03\x04 not really a zip", "hires.xlsx", "import_broken_xlsx"),
        (b"%PDF-1.4 ...", "hires.pdf", "import_not_sheet"),
        (b"", "hires.csv", "import_empty"),
        ("名字,电话\n王五,1\n".encode(), "hires.csv", "import_columns_missing"),
        (("姓名,手机,部门\n" + "王某,13800000000,finance\n" * 5001).encode(), "h.csv",
         "import_too_many_rows"),
    ],
)  # fmt: skip
def test_files_that_are_no_usable_sheet_are_refused_clearly(engine, people, data, name, code):
    with pytest.raises(InvalidAction) as refused:
        plan(engine, people["fenglei"], data, name)
    assert refused.value.code == code


def test_csv_in_gb18030_and_english_headers(engine, people):
    header = ["name", "mobile", "unit", "position", "login"]
    rows = [["赵一鸣", "13812340001", "财务部", "会计", "zym"]]
    shown = plan(engine, people["fenglei"], csv_bytes(rows, header, "gb18030"), "hr.csv")
    assert [(r.action, r.login, r.unit) for r in shown.rows] == [("create", "zym", "财务部")]


@pytest.mark.postgres
def test_import_on_postgres(pg_db):
    engine, who = setup_engine(pg_db, SafeClock())
    data = xlsx(HIRES)
    shown = importing.plan_import(pg_db, who["fenglei"], data, "h.xlsx")
    done = importing.apply_import(pg_db, who["fenglei"], data, "h.xlsx", shown.digest,
                                  engine.clock(), base_url=BASE)  # fmt: skip
    assert len(done.invited) == 3
    assert [r.action for r in importing.plan_import(pg_db, who["fenglei"], data, "h.xlsx").rows] == [
        "unchanged"] * 3 + ["refused"] * 2  # fmt: skip
    assert [k for k, _ in chain_ok(engine)][-1] == "person_import"
