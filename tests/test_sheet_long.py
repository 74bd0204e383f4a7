"""The flow sheet prints whatever the limits allow: the longest opinion, unbroken text, 40 visits."""

from __future__ import annotations

import re
from dataclasses import replace

from tests.engine.test_sheet import CONTRACT, ORG
from tests.test_sheet_pdf import pdf_text, sheet_of
from workflow.limits import OPINION_MAX, TEXT_MAX, TEXTAREA_MAX, TITLE_MAX
from workflow.sheet_pdf import render_pdf

# What every page repeats (the steps table's head, the margin boxes): not part of the record.
REPEATED = re.compile(
    rf"角色\s+姓名\s+办理\s+送达\s+确认\s+处理|{ORG}\s*流程单\s*·\s*流程编号\s*\d+"
    r"|第\s*\d+\s*页\s*/\s*共\s*\d+\s*页"
)


def sheet_text(engine, fid, tmp_path) -> tuple[str, int]:
    """The PDF's text without what each page repeats, white space removed, and its page count."""
    _record, _spec, pdf = sheet_of(engine, fid)
    text = pdf_text(pdf, tmp_path)
    pages = text.count("\f") + (0 if text.endswith("\f") else 1)
    return re.sub(r"\s+", "", REPEATED.sub("", text)), pages


def test_the_longest_chinese_opinion_prints_across_pages(engine, people, tmp_path):
    opinion = ("经审核，合同条款基本合规，付款节点与验收标准需进一步明确。" * 200)[:OPINION_MAX]
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT, opinion=opinion).flow_id
    flat, pages = sheet_text(engine, fid, tmp_path)
    assert f"意见：{opinion}" in flat
    assert pages >= 3  # the opinion alone is taller than a page


def test_the_longest_unbroken_latin_opinion_wraps(engine, people, tmp_path):
    opinion = ("Pneumonoultramicroscopicsilicovolcanoconiosis" * 200)[:OPINION_MAX]
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT, opinion=opinion).flow_id
    flat, _pages = sheet_text(engine, fid, tmp_path)
    assert opinion in flat


def test_the_longest_title_and_form_values_print(engine, people, tmp_path):
    # contract_review caps its fields lower; the sheet is given the most any definition allows
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT, opinion="请审核").flow_id
    record = engine.history(fid)
    long_text = ("采购空调四十台，含安装调试与三年维保。" * 600)[:TEXTAREA_MAX]
    record = replace(
        record,
        title=("办公楼空调采购合同" * 60)[:TITLE_MAX],
        form={**record.form, "title": "x" * TEXT_MAX, "summary": long_text},
    )
    with engine.db.read() as s:
        spec = engine.registry.get(s, record.definition_id).spec
    text = pdf_text(render_pdf(record, spec, engine.stamp, ORG, "zh"), tmp_path)
    flat = re.sub(r"\s+", "", REPEATED.sub("", text))
    assert record.title in flat and "x" * TEXT_MAX in flat and long_text in flat


def test_a_flow_of_forty_visits_prints_every_visit(engine, people, item_of, clock, tmp_path):
    h = people
    fid = engine.start(h["huangyong"], "contract_review", CONTRACT, opinion="第1次送审").flow_id
    for n in range(2, 21):  # each round: returned to the draft (one visit), sent again (one)
        clock.advance(minutes=5)
        engine.return_(h["qianxuejun"], item_of("qianxuejun", fid), opinion=f"第{n}次退回")
        clock.advance(minutes=5)
        engine.forward(h["huangyong"], item_of("huangyong", fid), opinion=f"第{n}次送审")
    record = engine.history(fid)
    assert len(record.visits) == 40
    flat, pages = sheet_text(engine, fid, tmp_path)
    assert pages >= 2
    for n in range(2, 21):
        assert f"意见：第{n}次退回" in flat and f"意见：第{n}次送审" in flat
    assert "40.部门负责人审核" in flat or "40.部门" in flat
