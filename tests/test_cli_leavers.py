"""``banli org people move`` and ``remove``, as an administrator types them."""

from __future__ import annotations

from tests.test_cli import run  # noqa: F401 (fixture)


def test_remove_a_leaver_and_move_a_person_from_the_terminal(run):  # noqa: F811
    assert run("demo").exit_code == 0
    held = run("org", "people", "remove", "liming", "--as", "fenglei")
    assert held.exit_code == 1
    assert "successor: is required: 李明 has" in held.output and "open work items" in held.output

    out = run("org", "people", "remove", "liming", "--successor", "zhaomin", "--as", "fenglei")
    assert out.exit_code == 0, out.output
    assert out.output.startswith("removed 李明 (liming): 0 sessions ended, ")
    lines = out.output.splitlines()
    handed = [line for line in lines if "→ item" in line]
    assert handed and all(line.startswith("  flow ") for line in handed)
    assert f"{len(handed)} open work items reassigned" in lines[0]

    again = run("org", "people", "remove", "liming", "--successor", "zhaomin", "--as", "zhouwei")
    assert again.exit_code == 1 and "李明 was already removed by 冯磊 at" in again.output
    assert run("audit", "verify").exit_code == 0

    moved = run("org", "people", "move", "wujing", "--unit", "engineering", "--as", "fenglei")
    assert moved.exit_code == 0, moved.output
    assert "moved 吴静 (wujing): 办公室 → 工程管理部; 0 open work items reassigned" in moved.output
    stranger = run("org", "people", "move", "wujing", "--unit", "finance", "--as", "linxiaoyan")
    assert stranger.exit_code == 1 and "no person" in stranger.output
    assert run("audit", "verify").exit_code == 0
