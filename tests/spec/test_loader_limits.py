"""Definition files that are too big, too deep or not text: one line each, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from workflow.cli import main
from workflow.errors import DefinitionError
from workflow.limits import DEFINITION_BYTES_MAX, DEFINITION_DEPTH_MAX, DEFINITION_STEPS_MAX
from workflow.spec import check_files, load_file, load_text

ROOT = Path(__file__).resolve().parents[2]
HEAD = "id: big\nname: {zh: 大, en: Big}\nsteps:\n"


def chain(steps: int) -> str:
    """A valid definition of ``steps`` steps, each handing on to the next, the last ending."""
    rows = [HEAD]
    for i in range(steps):
        host = "initiator" if i == 0 else "{role: unit_head, of: initiator}"
        last = "    can_end: true\n" if i == steps - 1 else f"    next: [s{i + 1}]\n"
        rows.append(f"  s{i}:\n    name: {{zh: 第{i}步, en: Step {i}}}\n    host: {host}\n{last}")
    return "".join(rows)


def refused(path: Path | str) -> list[str]:
    """The problems both load_file and check_files report for ``path``."""
    with pytest.raises(DefinitionError) as caught:
        load_file(path)
    assert check_files([path]) == caught.value.problems
    return caught.value.problems


def test_a_valid_definition_of_3000_steps_loads(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(chain(3000), encoding="utf-8")
    assert path.stat().st_size < DEFINITION_BYTES_MAX
    defn = load_file(path)
    assert len(defn.steps) == 3000 and defn.steps["s2999"].can_end


def test_more_steps_than_the_limit_are_refused():
    text = chain(1).replace("  s0:", "\n".join(f"  x{i}: 1" for i in range(DEFINITION_STEPS_MAX))
                            + "\n  s0:")  # fmt: skip
    with pytest.raises(DefinitionError) as caught:
        load_text(text, "many.yaml")
    assert caught.value.problems == [
        f"many.yaml:3: a definition may have at most {DEFINITION_STEPS_MAX} steps, "
        f"not {DEFINITION_STEPS_MAX + 1}"
    ]


def test_a_file_larger_than_the_limit_is_refused_unread(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(chain(2) + "#" * DEFINITION_BYTES_MAX, encoding="utf-8")
    assert refused(path) == [
        f"huge.yaml: the file is larger than {DEFINITION_BYTES_MAX} bytes, the most a definition may have"
    ]


def test_text_larger_than_the_limit_is_refused_too():
    with pytest.raises(DefinitionError) as caught:
        load_text(chain(2) + "#" * DEFINITION_BYTES_MAX, "huge.yaml")
    assert caught.value.problems == [
        f"huge.yaml: the file is larger than {DEFINITION_BYTES_MAX} bytes, the most a definition may have"
    ]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_file_that_never_ends():
    assert refused("/dev/zero") == [
        f"zero: the file is larger than {DEFINITION_BYTES_MAX} bytes, the most a definition may have"
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[" * 100_000 + "]" * 100_000, 1),  # once a RecursionError deep inside PyYAML
        ("a:\n" + "".join(" " * i + "- \n" for i in range(1, 200)), 41),
        ("a: " + "{b: " * 1000 + "c" + "}" * 1000, 1),
    ],
    ids=["flow-lists", "block-lists", "flow-mappings"],
)
def test_deep_nesting_names_the_line(text, line, tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    assert refused(path) == [
        f"deep.yaml:{line}: values are nested more than {DEFINITION_DEPTH_MAX} levels deep"
    ]


def test_aliases_nesting_aliases_are_refused():
    rows = ["a0: &a0 [x]", *(f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 5000))]
    with pytest.raises(DefinitionError) as caught:
        load_text("\n".join(rows), "aliases.yaml")
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("aliases.yaml:")


@pytest.mark.parametrize("command", ["check", "load"])
def test_the_cli_says_file_and_message_and_exits_1(command, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes(b"id: memo\nname: {zh: caf\xe9, en: Cafe}\n")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    if command == "load":
        assert CliRunner().invoke(main, ["--db", url, "init"]).exit_code == 0
    result = CliRunner().invoke(main, ["--db", url, "definitions", command, str(deep), str(latin)],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"deep.yaml:1: values are nested more than {DEFINITION_DEPTH_MAX} levels deep",
        "latin1.yaml:2: the file is not UTF-8: invalid continuation byte",
    ]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_the_cli_on_dev_zero_in_a_process_of_its_own():
    # a process of its own: reading /dev/zero whole would fill its memory, not the test's
    out = subprocess.run(
        [sys.executable, "-c", "from workflow.cli import main; main()", "definitions", "check",
         "/dev/zero"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 1
    assert out.stderr == (
        f"zero: the file is larger than {DEFINITION_BYTES_MAX} bytes, the most a definition may have\n"
    )


def test_a_long_help_text_is_allowed_a_long_label_is_not():
    text = chain(1).replace(
        "name: {zh: 大, en: Big}",
        "name: {zh: 大, en: Big}\ndescription: {zh: " + "说" * 2000 + ", en: About}",
    )
    assert load_text(text, "ok.yaml").description.zh == "说" * 2000
    with pytest.raises(DefinitionError) as caught:
        load_text(text.replace("说" * 2000, "说" * 2001), "long.yaml")
    assert caught.value.problems == [
        "long.yaml:3: description.zh should have at most 2000 characters"
    ]
