"""``banli org people``: list in scope, enrol (prints the link), import (dry run, --confirm),
invite again; refusals said in the terminal with exit status 1."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from tests.test_org_import import HIRES, xlsx
from workflow.cli import main


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def invoke(*args: str):
        return CliRunner().invoke(main, ["--db", url, *args], catch_exceptions=False)

    assert invoke("demo").exit_code == 0
    return invoke


def test_list_enrol_invite_and_refusals(run):
    listed = run("org", "people", "list", "--as", "linxiaoyan")
    assert listed.exit_code == 0 and "4 people" in listed.output and "wangfang" not in listed.output
    other = run("org", "people", "list", "--unit", "office", "--as", "linxiaoyan")
    assert other.exit_code == 1 and "may not administer people and units in 办公室" in other.output
    done = run("org", "people", "enrol", "--name", "陈晓东", "--mobile", "13800138000",
               "--unit", "finance", "--role", "finance", "--as", "fenglei")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "enrolled 陈晓东 as chenxiaodong (invited)" in done.output
    assert "http://127.0.0.1:5000/invite/" in done.output
    bad = run("org", "people", "enrol", "--name", "张三", "--mobile", "13800138000",
              "--unit", "finance", "--as", "fenglei")  # fmt: skip
    assert bad.exit_code == 1
    assert "name: must be the person's real name" in bad.output
    assert "mobile: is already the mobile of 陈晓东" in bad.output
    again = run("org", "people", "invite", "chenxiaodong", "--as", "fenglei")
    assert again.exit_code == 0 and "invitation sent to 陈晓东" in again.output
    active = run("org", "people", "invite", "wangfang", "--as", "fenglei")
    assert active.exit_code == 1 and "not waiting for an invitation" in active.output
    invited = run("org", "people", "list", "--status", "invited", "--as", "fenglei")
    assert "chenxiaodong" in invited.output and "1 people" in invited.output


def test_import_is_a_dry_run_until_confirmed(run, tmp_path):
    sheet = tmp_path / "hires.xlsx"
    sheet.write_bytes(xlsx(HIRES))
    dry = run("org", "people", "import", str(sheet), "--as", "fenglei")
    assert dry.exit_code == 0, dry.output
    assert "row 2: create" in dry.output and "row 5: refused" in dry.output
    assert "mobile: must be a mainland mobile number" in dry.output
    assert "dry run: nothing was written" in dry.output
    done = run("org", "people", "import", str(sheet), "--confirm", "--as", "fenglei")
    assert "imported: 3 created, 0 changed, 0 unchanged, 2 refused" in done.output
    assert done.output.count("/invite/") == 3
    twice = run("org", "people", "import", str(sheet), "--confirm", "--as", "fenglei")
    assert "imported: 0 created, 0 changed, 3 unchanged, 2 refused" in twice.output
    junk = tmp_path / "x.xlsx"
    junk.write_bytes(b"PK\x03\x04junk")
    broken = run("org", "people", "import", str(junk), "--as", "fenglei")
    assert broken.exit_code == 1 and "cannot be read" in broken.output
