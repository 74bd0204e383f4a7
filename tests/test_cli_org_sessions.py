"""``banli org sessions`` and ``banli org signins`` as an administrator uses them."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from workflow import sessions
from workflow.cli import main
from workflow.store.db import Database
from workflow.store.models import User

ROOT = Path(__file__).resolve().parent.parent
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) MicroMessenger/8.0.44"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def invoke(*args: str):
        return CliRunner().invoke(main, ["--db", url, *args], catch_exceptions=False)

    assert invoke("demo").exit_code == 0
    invoke.db = Database(url)
    yield invoke
    invoke.db.dispose()


def test_list_and_end_a_persons_sessions(run):
    db = run.db
    with db.read() as s:
        uid = s.execute(select(User.id).where(User.login == "huangyong")).scalar_one()
    sessions.open_session(db, uid, datetime.now(UTC), PHONE, "198.51.100.7")
    listed = run("org", "sessions", "list", "huangyong", "--as", "linxiaoyan")
    assert listed.exit_code == 0 and "WeChat · iPhone" in listed.output
    assert "198.51.100.7" in listed.output
    stranger = run("org", "sessions", "end", "wangfang", "--as", "linxiaoyan")
    assert stranger.exit_code == 1 and "no user with id" in stranger.output
    ended = run("org", "sessions", "end", "huangyong", "--as", "linxiaoyan")
    assert (
        ended.exit_code == 0 and "1 session(s) of 黄勇 (huangyong) ended by 林晓燕" in ended.output
    )
    again = run("org", "sessions", "list", "huangyong", "--as", "linxiaoyan")
    assert "has no open session" in again.output
    nobody = run("org", "sessions", "end", "huangyong", "--as", "heting")
    assert nobody.exit_code == 1 and "何婷" in nobody.output


def test_stats_csv_and_remind(run, tmp_path):
    out = tmp_path / "signins.csv"
    got = run("org", "signins", "stats", "--unit", "finance", "--as", "fenglei", "--csv", str(out))
    assert got.exit_code == 0, got.output
    assert "财务部: 0 of 4 signed in, 4 not" in got.output
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == ["date", "unit", "login", "name", "signed_in", "first_sign_in"]
    assert len(rows) == 1 + 4 * 7
    bad = run("org", "signins", "stats", "--from", "2026-02-30", "--as", "fenglei")
    assert bad.exit_code == 1 and "--from must be a date" in bad.output
    head = run("org", "signins", "stats", "--unit", "office", "--as", "qianxuejun")
    assert head.exit_code == 1
    remind = run("org", "signins", "remind", "--unit", "finance", "--as", "fenglei")
    assert remind.exit_code == 0 and "4 reminder(s) queued" in remind.output
    twice = run("org", "signins", "remind", "--unit", "finance", "--as", "fenglei")
    assert "0 reminder(s) queued, 4 already reminded today" in twice.output
