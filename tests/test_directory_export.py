"""The directory as CSV: administrators with ``people`` only, their scope only, recorded."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from workflow.audit import verify_all
from workflow.errors import Forbidden
from workflow.org.directory_export import HEADER, export_csv
from workflow.store.models import AuditEvent, User

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_main_administrator_exports_everyone_active(engine, people):
    with engine.db.write() as s:
        s.execute(update(User).where(User.id == people["heting"]).values(status="removed"))
    rows = rows_of(export_csv(engine.db, people["zhouwei"], NOW))
    assert rows[0] == list(HEADER)
    assert len(rows) == 1 + len(people) - 1  # everyone but the removed one
    wang = next(r for r in rows if r[0] == "王芳")
    assert wang == ["王芳", "wangfang", "华东建设集团有限公司 / 办公室", "收文员", "13901720002",
                    "wangfang@hdjs.example.com"]  # fmt: skip


def test_a_scoped_administrator_exports_their_units_only_and_staff_nothing(engine, people):
    rows = rows_of(export_csv(engine.db, people["linxiaoyan"], NOW))
    assert sorted(r[0] for r in rows[1:]) == sorted(["钱学军", "林晓燕", "黄勇", "马丽"])
    with pytest.raises(Forbidden):
        export_csv(engine.db, people["wangfang"], NOW)
    with engine.db.read() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.kind == "directory_export")).all()
        assert [e.data["target"] for e in events] == [{"people": 4}]
        assert verify_all(s)[1] == []


def test_a_cell_that_would_be_a_formula_is_quoted(engine, people):
    with engine.db.write() as s:
        s.execute(update(User).where(User.id == people["mali"]).values(post="=HYPERLINK(1)"))
    rows = rows_of(export_csv(engine.db, people["zhouwei"], NOW))
    assert next(r for r in rows if r[0] == "马丽")[3] == "'=HYPERLINK(1)"
