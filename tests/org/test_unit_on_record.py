"""The unit on the record (Art. 11): a work item keeps the unit its person was in when it was
made; a later move changes neither the record, the sheet nor the PDF, and ``banli audit
verify`` covers the unit (a tampered ``work_items.unit_id`` is named)."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select, update

from tests.conftest import setup_engine
from tests.engine.test_sheet import ORG
from tests.test_audit import CONTRACT
from tests.test_sheet_pdf import pdf_text
from workflow.cli import main
from workflow.integrity import check_all
from workflow.sheet_pdf import render_pdf
from workflow.store.models import AuditEvent, Unit, User, WorkItem


def handled_then_moved(engine, people, item_of) -> int:
    """黄勇 (财务部) starts a contract review; 钱学军 (head of 财务部) forwards it; then 钱学军
    is moved to 法务部."""
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT, opinion="请审核").flow_id
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid), opinion="同意，送会签")
    with engine.db.write() as s:
        legal = s.scalar(select(Unit.id).where(Unit.code == "legal"))
        s.execute(update(User).where(User.id == people["qianxuejun"]).values(unit_id=legal))
    return fid


def verify(db):
    url = db.url.render_as_string(hide_password=False)
    return CliRunner().invoke(main, ["--db", url, "audit", "verify"])


def test_items_keep_the_unit_of_their_moment(engine, people, item_of):
    fid = handled_then_moved(engine, people, item_of)
    record = engine.history(fid)
    parts = {p.name: p.unit for v in record.visits for p in v.people}
    assert parts["钱学军"] == "财务部"
    assert parts["黄勇"] == "财务部"
    assert parts["李明"] == "办公室"
    with engine.db.read() as s:
        events = s.scalars(
            select(AuditEvent.data).where(
                AuditEvent.chain == f"flow:{fid}", AuditEvent.kind == "deliver"
            )
        ).all()
    assert events[1]["units"] == [[units_id(engine, "finance"), "财务部"]]


def units_id(engine, code):
    with engine.db.read() as s:
        return s.scalar(select(Unit.id).where(Unit.code == code))


def test_the_pdf_shows_the_old_unit_after_a_move(engine, people, item_of, tmp_path):
    fid = handled_then_moved(engine, people, item_of)
    record = engine.history(fid)
    with engine.db.read() as s:
        spec = engine.registry.get(s, record.definition_id).spec
    text = pdf_text(render_pdf(record, spec, engine.stamp, ORG, "zh"), tmp_path)
    assert "钱学军（财务部）" in text
    assert "钱学军（法务部）" not in text
    english = pdf_text(render_pdf(record, spec, engine.stamp, ORG, "en"), tmp_path)
    assert "钱学军 (财务部)" in english


def test_audit_verify_covers_the_unit(engine, people, item_of):
    fid = handled_then_moved(engine, people, item_of)
    result = verify(engine.db)
    assert result.exit_code == 0, result.output
    assert "audit trail intact" in result.stdout
    with engine.db.write() as s:
        item = s.scalar(
            select(WorkItem.id).where(
                WorkItem.flow_id == fid, WorkItem.user_id == people["qianxuejun"]
            )
        )
        s.execute(update(WorkItem).where(WorkItem.id == item).values(
            unit_id=units_id(engine, "legal")))  # fmt: skip
    with engine.db.read() as s:
        mismatches = [str(m) for m in check_all(s)[1]]
    assert len(mismatches) == 1
    assert mismatches[0].startswith(f"flow {fid}: work item {item}: unit_id differs")
    result = verify(engine.db)
    assert result.exit_code == 1
    assert f"work item {item}: unit_id" in result.stderr


def test_the_unit_is_kept_and_verified_on_postgresql(pg_db, clock):
    engine, people = setup_engine(pg_db, clock)

    def item_of(login, fid):
        return next(r.item_id for r in engine.inbox(people[login], limit=50) if r.flow_id == fid)

    fid = handled_then_moved(engine, people, item_of)
    parts = {p.name: p.unit for v in engine.history(fid).visits for p in v.people}
    assert parts["钱学军"] == "财务部"
    with engine.db.read() as s:
        assert check_all(s)[1] == []
    with engine.db.write() as s:
        s.execute(
            update(WorkItem)
            .where(WorkItem.flow_id == fid, WorkItem.user_id == people["qianxuejun"])
            .values(unit_id=None)
        )
    with engine.db.read() as s:
        assert [m.field for m in check_all(s)[1]] == ["unit_id"]
