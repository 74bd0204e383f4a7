"""The flow sheet (流程单) as PDF: Chinese as real glyphs in embedded fonts, every step, the chain head."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.engine.test_sheet import CONTRACT, DOCUMENT, ORG
from workflow.cli import main
from workflow.paper import verify_url
from workflow.sheet_pdf import page_css, render_html, render_pdf, translator

STEPS = ["起草", "部门负责人审核", "会签", "分管领导审批", "总经理审批", "用印"]
OPINIONS = [
    "请审核",
    "同意，送会签",
    "合同条款合规",
    "资金已列入预算",
    "同意签订",
    "已加盖合同专用章",
]


def finish_contract(engine, people, item_of, clock) -> int:
    """A contract review driven from start to its end, as tests/engine/test_sheet.py drives it."""
    h = people

    def act(action, login, **kwargs):
        clock.advance(minutes=37)
        return action(h[login], item_of(login, fid), **kwargs)

    fid = engine.start(h["huangyong"], "contract_review", CONTRACT, opinion="请审核").flow_id
    act(engine.open, "qianxuejun")
    act(engine.forward, "qianxuejun", opinion="同意，送会签")
    act(engine.open, "yangfan")
    act(engine.sign, "yangfan", opinion="合同条款合规")
    act(engine.sign, "linxiaoyan", opinion="资金已列入预算")
    act(engine.forward, "liming", host=h["liuhaitao"])
    act(engine.forward, "liuhaitao", opinion="同意，报总经理")
    act(engine.forward, "zhangjianguo", opinion="同意签订")
    act(engine.end, "sunli", opinion="已加盖合同专用章")
    return fid


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text as ``pdftotext -layout`` reads it (glyphs mapped back to characters)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is missing: install Debian's poppler-utils (.ci/run does)")
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip


def pdf_fonts(path: Path) -> list[str]:
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts is missing: install Debian's poppler-utils (.ci/run does)")
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[2:]


BASE = "https://oa.hdjs.example.com"


def sheet_of(engine, fid, lang="zh"):
    record = engine.history(fid)
    with engine.db.read() as s:
        spec = engine.registry.get(s, record.definition_id).spec
    url = verify_url(BASE, fid, record.audit_head)
    return record, spec, render_pdf(record, spec, engine.stamp, ORG, lang, verify_url=url)


def test_a_finished_contract_review_as_pdf(engine, people, item_of, clock, tmp_path):
    fid = finish_contract(engine, people, item_of, clock)
    record, _spec, pdf = sheet_of(engine, fid)
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf, tmp_path)
    flat = re.sub(r"\s+", "", text)  # layout spacing aside
    for expected in (ORG, "合同评审流程单", "办公楼空调采购合同", "上海申能机电有限公司", "采购合同",
                     "已结束（同意）", *STEPS, "送达", "确认", "处理", "黄勇", "孙丽"):  # fmt: skip
        assert expected in flat, expected
    for opinion in OPINIONS:
        assert f"意见：{opinion}" in flat, opinion
    assert record.audit_head in text and len(record.audit_head) == 64
    assert "banli audit verify" not in text  # words for a clerk, not for a developer
    assert "扫描二维码，或打开下方的核对页面，即可核对此流程单与系统记录是否一致。" in flat
    assert f"{BASE}/verify?flow={fid}&head={record.audit_head}" in flat
    assert "第 1 页 / 共 " in text or "第1页/共" in flat
    for visit in record.visits:  # every person's three effect times, to the second
        for p in visit.people:
            for at in (p.delivered_at, p.confirmed_at, p.handled_at):
                assert at is None or engine.stamp(at) in text


def test_the_fonts_are_embedded_cjk_fonts_not_type3_boxes(engine, people, item_of, clock, tmp_path):
    fid = finish_contract(engine, people, item_of, clock)
    path = tmp_path / "fonts.pdf"
    path.write_bytes(sheet_of(engine, fid)[2])
    fonts = pdf_fonts(path)
    assert fonts, "the PDF names its fonts"
    assert any(re.search(r"CJK|WenQuanYi|ZenHei", line) for line in fonts), fonts
    assert not any("Type 3" in line for line in fonts), fonts
    for line in fonts:  # columns: name type encoding emb sub uni object ID
        assert line.split()[-5] == "yes", f"font not embedded: {line}"


def test_the_document_number_and_an_english_sheet(engine, people, item_of, clock, tmp_path):
    h = people
    fid = engine.start(h["wangfang"], "incoming_document", DOCUMENT).flow_id
    clock.advance(minutes=5)
    engine.end(h["liming"], item_of("liming", fid), opinion="存档")
    record = engine.history(fid)
    with engine.db.read() as s:
        spec = engine.registry.get(s, record.definition_id).spec
    html = render_html(record, spec, engine.stamp, ORG, "zh")
    assert "沪应急〔2026〕3号" in html.split('id="sheet-number">')[1][:40]
    english = render_html(record, spec, engine.stamp, ORG, "en")
    for words in ("Incoming document flow sheet", "Original number", "Very urgent",
                  "Delivered", "Confirmed", "Handled", "Ended the flow", "Proposal"):  # fmt: skip
        assert words in english, words
    assert '<html lang="en">' in english
    text = pdf_text(render_pdf(record, spec, engine.stamp, ORG, "en"), tmp_path)
    assert "Incoming document flow sheet" in text and "Page 1 of 1" in text


def test_page_numbers_and_names_are_safe_css_strings():
    css = page_css(translator("zh"), 'A "quoted" </style> unit', 7)
    assert 'counter(page) " 页 / 共 " counter(pages)' in css
    assert "</style>" not in css and '\\"quoted\\"' in css
    assert 'content: "Page " counter(page) " of " counter(pages)' in page_css(
        translator("en"), "", 7
    )


def test_cli_writes_the_pdf_or_the_text(engine, people, item_of, clock, db, tmp_path):
    fid = finish_contract(engine, people, item_of, clock)
    url = db.url.render_as_string(hide_password=False)
    out = tmp_path / "sheet.pdf"
    result = CliRunner().invoke(main, ["--db", url, "sheet", str(fid), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"written to {out}" in result.output
    flat = re.sub(r"\s+", "", pdf_text(out.read_bytes(), tmp_path))
    assert "合同评审流程单" in flat and all(name in flat for name in STEPS)

    text_out = tmp_path / "sheet.txt"
    result = CliRunner().invoke(main, ["--db", url, "sheet", str(fid), "-o", str(text_out)])
    assert result.exit_code == 0, result.output
    assert text_out.read_text(encoding="utf-8").startswith(f"{ORG}  合同评审 流程单\n")
