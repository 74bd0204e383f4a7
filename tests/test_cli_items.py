"""``banli items export``: a person's whole workbench as CSV, as the page's export gives it."""

from __future__ import annotations

from tests.test_cli import run  # noqa: F401 (fixture)


def test_export_a_persons_workbench_from_the_terminal(run, tmp_path):  # noqa: F811
    assert run("demo").exit_code == 0
    out = run("items", "export", "--as", "liming")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("tab,flow_id,item_id,title") and len(lines) > 1
    assert {line.split(",")[0] for line in lines[1:]} <= {"todo", "done", "started", "circulated"}
    path = tmp_path / "liming.csv"
    written = run("items", "export", "--as", "liming", "-o", str(path), "--lang", "en")
    assert written.exit_code == 0 and len(path.read_text(encoding="utf-8").splitlines()) == len(
        lines
    )
    nobody = run("items", "export", "--as", "nobody")
    assert nobody.exit_code == 1 and "no user with login 'nobody'" in nobody.output
