"""Checking the paper: a printed chain head is the flow's head now, an earlier one, or none of its;
the sheet's QR code carries the verify page's address (decoded back from the PDF with zbarimg)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import segno
from click.testing import CliRunner
from sqlalchemy import select, text

from tests.test_sheet_pdf import finish_contract
from workflow.cli import main
from workflow.paper import check_paper, qr_svg, verify_url
from workflow.store.models import AuditEvent


@pytest.fixture
def finished(engine, people, item_of, clock) -> int:
    return finish_contract(engine, people, item_of, clock)


def _events(engine, fid):
    with engine.db.read() as s:
        stmt = select(AuditEvent).where(AuditEvent.chain == f"flow:{fid}").order_by(AuditEvent.seq)
        return list(s.scalars(stmt))


def _cli(db, *args: str):
    url = db.url.render_as_string(hide_password=False)
    return CliRunner().invoke(main, ["--db", url, "audit", "verify", *args])


def test_check_paper_current_earlier_and_unknown(engine, finished):
    events = _events(engine, finished)
    record = engine.history(finished)
    with engine.db.read() as s:
        now = check_paper(s, finished, record.audit_head.upper())  # as typed from the paper
        old = check_paper(s, finished, events[8].hash)
        wrong = check_paper(s, finished, "ab" * 32)
    assert (now.status, now.ok, now.found.seq, now.since) == ("current", True, len(events), [])
    assert old.status == "earlier" and old.intact and not old.ok
    assert old.found.seq == 9 and [e.seq for e in old.since] == list(range(10, len(events) + 1))
    assert [e.kind for e in old.since][-1] == "end"
    assert wrong.status == "unknown" and wrong.found is None


def test_cli_current_head(engine, db, finished):
    record = engine.history(finished)
    result = _cli(db, "--flow", str(finished), "--head", record.audit_head)
    assert result.exit_code == 0, result.output
    last = _events(engine, finished)[-1]
    assert f"flow {finished}: audit chain intact" in result.stdout
    assert (
        f"{record.audit_head[:16]}… is flow {finished}'s head now: the head after event "
        f"{last.seq} (end, {engine.local(record.ended_at)})"
    ) in result.stdout


def test_cli_earlier_head_names_the_event_and_what_came_after(engine, db, finished):
    events = _events(engine, finished)
    at = events[-3]
    result = _cli(db, "--flow", str(finished), "--head", at.hash)
    assert result.exit_code == 0, result.output
    since = ", ".join(e.kind for e in events[-2:])
    assert (
        f"was flow {finished}'s head after event {at.seq} ({at.kind}, "
        f"{engine.local(at.at)}); 2 event(s) since: {since}"
    ) in result.stdout


def test_cli_wrong_head_and_a_head_of_another_flow_exit_1(engine, db, people, finished):
    other = engine.start(people["wangfang"], "seal_usage", {"title": "用印", "seal": "company",
                         "copies": 1, "purpose": "签约"}).flow_id  # fmt: skip
    for head in ("0" * 64, engine.history(other).audit_head, "not a head"):
        result = _cli(db, "--flow", str(finished), "--head", head)
        assert result.exit_code == 1, result.output
        assert (
            f"is not in flow {finished}'s chain: the sheet may have been altered" in result.stderr
        )


def test_cli_a_broken_chain_is_named_even_for_the_current_head(engine, db, finished):
    record = engine.history(finished)
    with engine.db.write() as s:
        s.execute(
            text("UPDATE audit_events SET actor_name = '张三' WHERE chain = :c AND seq = 3"),
            {"c": f"flow:{finished}"},
        )
    result = _cli(db, "--flow", str(finished), "--head", record.audit_head)
    assert result.exit_code == 1
    assert f"BROKEN flow:{finished}: seq 3 " in result.stderr
    assert "audit chain intact" not in result.stdout


def test_cli_head_needs_flow_and_an_unknown_flow_is_clear(engine, db):
    assert _cli(db, "--head", "ab" * 32).exit_code == 2
    result = _cli(db, "--flow", "99999", "--head", "ab" * 32)
    assert result.exit_code == 1 and "flow 99999 does not exist" in result.output


def test_the_qr_code_is_segnos_code_of_the_verify_url():
    url = verify_url("https://oa.hdjs.example.com/", 12, "ab" * 32)
    assert url == f"https://oa.hdjs.example.com/verify?flow=12&head={'ab' * 32}"
    svg = qr_svg(url)
    assert svg.startswith("<svg") and 'class="sheet-qr"' in svg
    expected = segno.make(url, error="m", micro=False)
    assert svg == expected.svg_inline(scale=1, border=4, omitsize=True, svgclass="sheet-qr",
                                      lineclass=None)  # fmt: skip


def test_the_text_sheet_prints_the_verify_url(engine, db, finished, monkeypatch):
    monkeypatch.delenv("BANLI_BASE_URL", raising=False)
    url = db.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["--db", url, "sheet", str(finished)])
    head = engine.history(finished).audit_head
    assert (
        f"核对此流程单与系统记录是否一致，请打开：http://127.0.0.1:5000/verify?flow={finished}&head={head}"
        in result.output
    )
    assert "banli audit verify" not in result.output


def test_the_pdfs_qr_code_decodes_to_the_verify_url(engine, db, finished, tmp_path, monkeypatch):
    for tool in ("zbarimg", "pdftoppm", "pdfimages"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing: install zbar-tools and poppler-utils (.ci/run does)")
    monkeypatch.setenv("BANLI_BASE_URL", "https://oa.hdjs.example.com")
    url = db.url.render_as_string(hide_password=False)
    pdf = tmp_path / "sheet.pdf"
    result = CliRunner().invoke(main, ["--db", url, "sheet", str(finished), "-o", str(pdf)])
    assert result.exit_code == 0, result.output
    subprocess.run(["pdftoppm", "-r", "200", "-png", str(pdf), str(tmp_path / "page")], check=True)
    found = set()
    for png in sorted(tmp_path.glob("page*.png")):
        out = subprocess.run(["zbarimg", "--quiet", "--raw", str(png)], capture_output=True,
                             text=True)  # fmt: skip
        found.update(line for line in out.stdout.splitlines() if line)
    head = engine.history(finished).audit_head
    assert found == {f"https://oa.hdjs.example.com/verify?flow={finished}&head={head}"}


def test_cli_a_forged_row_under_an_intact_chain_fails_the_paper_check(engine, db, finished):
    record = engine.history(finished)
    with engine.db.write() as s:
        s.execute(
            text("UPDATE flows SET form = json_set(form, '$.amount', '1.00') WHERE id = :f"),
            {"f": finished},
        )
    result = _cli(db, "--flow", str(finished), "--head", record.audit_head)
    assert result.exit_code == 1
    assert f"flow {finished}: flow: form.amount differs from event seq 1" in result.stderr
    assert "audit chain intact" not in result.stdout
