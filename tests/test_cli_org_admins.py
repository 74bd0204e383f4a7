"""``banli org admins``: the administrators from the terminal, checked like the pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from workflow.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-admins') / 'cli.db'}"

    def invoke(*args: str):
        return CliRunner().invoke(main, ["--db", url, *args], catch_exceptions=False)

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)  # the demo loads the shipped definitions from ./definitions
        assert invoke("demo").exit_code == 0
    return invoke


def test_list_appoint_change_log_revoke_transfer(run) -> None:
    listed = run("org", "admins", "list", "--as", "zhouwei")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].startswith("main  zhouwei") and "周伟" in lines[0]
    assert any("linxiaoyan" in line and "people@财务部" in line for line in lines)

    done = run("org", "admins", "appoint", "wujing", "--grant", "people@finance",
               "--grant", "stats@finance", "--as", "zhouwei")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "wujing now administers: people@财务部, stats@财务部" in done.output
    changed = run("org", "admins", "change", "wujing", "--remove", "people@finance",
                  "--add", "stats@office", "--as", "zhouwei")  # fmt: skip
    assert "stats@财务部" in changed.output and "people" not in changed.output

    log = run("org", "admins", "log", "--kind", "admin_appoint", "--as", "zhouwei")
    assert log.exit_code == 0
    (line,) = log.output.splitlines()
    assert "admin_appoint" in line and "周伟" in line and "吴静" in line
    assert "grants: [] -> [people@财务部, stats@财务部]" in line
    # 林晓燕 (财务部) reads wujing's appointment? 吴静 is in 办公室: not hers
    theirs = run("org", "admins", "log", "--as", "linxiaoyan")
    assert theirs.exit_code == 0 and "吴静" not in theirs.output

    sub = run("org", "admins", "appoint", "songjia", "--grant", "stats@hq", "--as", "fenglei")
    assert sub.exit_code == 1 and "only the main administrator" in sub.output
    bad = run("org", "admins", "appoint", "ghost", "--grant", "power@nowhere", "--as", "zhouwei")
    assert bad.exit_code == 1
    assert "person: names no active person: ghost" in bad.output
    assert "capabilities: must be one of" in bad.output
    malformed = run("org", "admins", "appoint", "wujing", "--grant", "stats", "--as", "zhouwei")
    assert malformed.exit_code == 2 and "CAPABILITY@UNIT_CODE" in malformed.output

    revoked = run("org", "admins", "revoke", "wujing", "--as", "zhouwei")
    assert revoked.exit_code == 0 and "administers nothing now" in revoked.output
    twice = run("org", "admins", "revoke", "wujing", "--as", "zhouwei")
    assert twice.exit_code == 1 and "is not a sub-administrator" in twice.output

    moved = run("org", "admins", "transfer", "liming", "--as", "zhouwei")
    assert moved.exit_code == 0, moved.output
    assert run("org", "admins", "list", "--as", "liming").output.startswith("main  liming")
    assert run("org", "admins", "list", "--as", "zhouwei").exit_code == 1
    assert run("audit", "verify").exit_code == 0
