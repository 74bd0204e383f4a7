"""A reassignment on every copy of the record: the text sheet, the PDF (pdftotext), both languages."""

from __future__ import annotations

import re

from tests.engine.test_incoming_document import register
from tests.engine.test_sheet import ORG
from tests.test_sheet_pdf import pdf_text
from workflow.org import leavers
from workflow.sheet import render_text
from workflow.sheet_pdf import render_pdf


def test_the_leavers_name_and_the_reason_on_the_sheets(engine, people, item_of, clock, tmp_path):
    fid = register(engine, people)
    leavers.remove(engine, people["fenglei"], people["liming"], people["zhaomin"], at=clock())
    record = engine.history(fid)
    with engine.db.read() as s:
        spec = engine.registry.get(s, record.definition_id).spec

    text = render_text(record, spec, engine.stamp, ORG)
    assert "李明" in text and "已转办" in text and "因 李明 离职，转由 赵敏 办理" in text

    flat = re.sub(r"\s+", "", pdf_text(render_pdf(record, spec, engine.stamp, ORG, "zh"), tmp_path))
    assert "李明" in flat and "已转办" in flat and "因李明离职，转由赵敏办理" in flat
    english = pdf_text(render_pdf(record, spec, engine.stamp, ORG, "en"), tmp_path)
    assert "Reassigned to 赵敏: 李明 left" in re.sub(r"[ \t]+", " ", english)


def test_a_move_says_so(engine, people, item_of, clock):
    fid = register(engine, people)
    leavers.move(engine, people["fenglei"], people["liming"], "engineering", at=clock(),
                 successor_id=people["wujing"], items=[item_of("liming", fid)])  # fmt: skip
    record = engine.history(fid)
    with engine.db.read() as s:
        spec = engine.registry.get(s, record.definition_id).spec
    assert "因 李明 调动，转由 吴静 办理" in render_text(record, spec, engine.stamp, ORG)
