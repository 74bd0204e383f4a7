"""``banli org directory privacy``: an administrator hides a person's mobile from the terminal,
within their scope, recorded on the admin chain."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from workflow.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_hide_show_and_the_scope_from_the_terminal(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args: str):
        return CliRunner().invoke(main, ["--db", url, *args], catch_exceptions=False)

    assert run("demo").exit_code == 0
    hide = run("org", "directory", "privacy", "zhangjianguo", "--hide", "--viewers",
               "office,leaders", "--as", "fenglei")  # fmt: skip
    assert hide.exit_code == 0, hide.output
    assert "张建国 (zhangjianguo): mobile hidden" in hide.output
    assert "units that see it when hidden: leaders (公司领导), office (办公室)" in hide.output
    again = run("org", "directory", "privacy", "zhangjianguo", "--hide", "--as", "zhouwei")
    assert "nothing changed" in again.output and "mobile hidden" in again.output
    shown = run("org", "directory", "privacy", "zhangjianguo", "--show", "--as", "zhouwei")
    assert "mobile visible to all staff" in shown.output
    # 财务部's administrator may not touch 公司领导
    out_of_scope = run(
        "org", "directory", "privacy", "zhangjianguo", "--hide", "--as", "linxiaoyan"
    )
    assert out_of_scope.exit_code == 1
    assert "林晓燕 may not administer people and units in 公司领导" in out_of_scope.output
    bad = run("org", "directory", "privacy", "huangyong", "--hide", "--viewers", "nowhere",
              "--as", "linxiaoyan")  # fmt: skip
    assert bad.exit_code == 1 and "--viewers names a unit" in bad.output and "nowhere" in bad.output
    nobody = run("org", "directory", "privacy", "ghost", "--hide", "--as", "zhouwei")
    assert nobody.exit_code == 1 and "no user with login 'ghost'" in nobody.output
    verify = run("audit", "verify")
    assert verify.exit_code == 0 and "audit trail intact" in verify.output
