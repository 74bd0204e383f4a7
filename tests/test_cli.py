"""The ``banli`` command as a script or an administrator uses it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from workflow.cli import main
from workflow.jobs import JOBS, enqueue
from workflow.refusals import render
from workflow.store.db import Database

ROOT = Path(__file__).resolve().parent.parent
BROKEN = ROOT / "tests" / "data" / "definitions" / "broken"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def invoke(*args: str):
        return CliRunner().invoke(main, ["--db", url, *args], catch_exceptions=False)

    return invoke


def test_demo_then_sheet_and_verify(run):
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert "contract_review loaded as version 1" in result.output
    assert "5 demo flows started" in result.output
    again = run("demo")
    assert "already there" in again.output and "unchanged, version 1" in again.output

    sheet = run("sheet", "1")
    assert sheet.exit_code == 0
    for text in (
        "华东建设集团有限公司",
        "合同评审 流程单",
        "办公楼中央空调维保合同",
        "部门负责人审核",
        "会签",
        "杨帆",
        "条款无异议。",
        "送达",
        "确认",
        "处理",
        "状态：已结束（同意）",
    ):
        assert text in sheet.output
    verify = run("audit", "verify")
    assert verify.exit_code == 0 and "audit trail intact" in verify.output


def test_sheet_of_unknown_flow_is_a_clear_error(run):
    run("init")
    result = run("sheet", "999")
    assert result.exit_code == 1
    assert "flow 999 does not exist" in result.output


def test_definitions_check_passes_the_shipped_ones(run):
    files = [str(p) for p in sorted((ROOT / "definitions").glob("*.yaml"))]
    result = run("definitions", "check", *files)
    assert result.exit_code == 0
    assert "5 definition(s) OK" in result.output


def test_definitions_check_prints_file_line_and_fails(run):
    files = sorted(BROKEN.glob("*.yaml"))
    assert files, "tests/data/definitions/broken holds the broken definitions"
    result = run("definitions", "check", *map(str, files))
    assert result.exit_code == 1
    for path in files:
        assert f"{path.name}:" in result.output


def test_definitions_load_stores_new_versions_only_when_changed(run, tmp_path):
    run("init")
    copy = tmp_path / "contract_review.yaml"
    copy.write_text(
        (ROOT / "definitions" / "contract_review.yaml")
        .read_text(encoding="utf-8")
        .replace("合同评审", "合同审查", 1),
        encoding="utf-8",
    )
    result = run("definitions", "load", str(copy))
    assert "contract_review loaded as version 2" in result.output
    result = run("definitions", "load", str(copy))
    assert "unchanged, version 2" in result.output


def test_jobs_list_shows_the_dead_job_and_jobs_retry_runs_it_again(run, tmp_path):
    assert run("demo").exit_code == 0
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    died = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    with db.transaction() as conn:
        enqueue(conn, "deliver", "deliver:test:1", {"user_id": 1, "kind": "sms"}, died, 3)
        job_id = conn.execute(
            update(JOBS).where(JOBS.c.key == "deliver:test:1")
            .values(status="dead", attempts=3, done_at=died,
                    last_error="ChannelError: SMS gateway timed out\nprovider code 504")
            .returning(JOBS.c.id)
        ).scalar_one()  # fmt: skip
    db.dispose()

    listed = run("jobs", "list", "--status", "dead")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert "1 dead" in lines[0]
    assert lines[1].split() == ["ID", "STATUS", "KIND", "KEY", "ATTEMPTS", "DUE/DONE", "(local)",
                                "LAST", "ERROR"]  # fmt: skip
    [row] = lines[2:]
    assert row.split()[:5] == [str(job_id), "dead", "deliver", "deliver:test:1", "3/3"]
    assert "2026-03-02 09:30" in row  # Asia/Shanghai
    assert row.endswith("ChannelError: SMS gateway timed out…")  # one line, cut
    assert "provider code" not in listed.output

    refused = run("jobs", "retry", str(job_id), "--as", "wangfang")
    assert refused.exit_code == 1
    assert "wangfang (王芳) is not an active administrator" in refused.output
    assert "no user with login 'nobody'" in run("jobs", "retry", "1", "--as", "nobody").output
    done = run("jobs", "retry", str(job_id), "--as", "zhouwei")
    assert done.exit_code == 0, done.output
    assert f"job {job_id} (deliver deliver:test:1) is pending again" in done.output
    assert "周伟 (zhouwei)" in done.output
    again = run("jobs", "retry", str(job_id), "--as", "zhouwei")
    assert again.exit_code == 1 and "is pending, not dead" in again.output
    said = render("job_not_dead", {"job_id": job_id, "kind": "deliver", "status": "pending"})
    assert f"Error: {said}" in again.output  # the refusal catalogue's English sentence
    assert "job 999999 does not exist" in run("jobs", "retry", "999999", "--as", "zhouwei").output

    pending = run("jobs", "list", "--status", "pending", "--limit", "500").output
    assert any(line.split()[:5] == [str(job_id), "pending", "deliver", "deliver:test:1", "0/3"]
               for line in pending.splitlines())  # fmt: skip
    assert "no dead jobs" in run("jobs", "list", "--status", "dead").output
    verify = run("audit", "verify")
    assert verify.exit_code == 0 and "audit trail intact" in verify.output
