"""Definition files: each broken file under tests/data gives exactly the problems it declares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workflow.errors import DefinitionError
from workflow.limits import DEFINITION_VALUES_MAX
from workflow.spec import check_files, compiled_conditions, load_file, load_text

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "definitions"
GOOD = DATA / "good_minimal.yaml"
BROKEN = sorted((DATA / "broken").glob("*.yaml"))
SHIPPED = sorted((ROOT / "definitions").glob("*.yaml"))
EXPECT = "# expect: "


def expected(path: Path) -> list[str]:
    """The problems a broken file declares in its leading comments."""
    # errors="replace": some broken files are broken precisely by not being UTF-8
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    return [line.removeprefix(EXPECT) for line in lines if line.startswith(EXPECT)]


def test_every_broken_file_declares_its_problems() -> None:
    assert len(BROKEN) >= 14
    assert [p.name for p in BROKEN if not expected(p)] == []


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_file_gives_exactly_the_declared_problems(path: Path) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_file(path)
    assert caught.value.problems == expected(path)
    assert check_files([path]) == expected(path)


def test_good_file_loads() -> None:
    defn = load_file(GOOD)
    assert defn.id == "leave_request"
    assert defn.first_step == "draft"
    assert list(defn.steps) == ["draft", "approve", "director"]
    assert set(compiled_conditions(defn)) == {("approve", "director")}
    assert check_files([GOOD]) == []


@pytest.mark.skipif(not SHIPPED, reason="no shipped definitions yet")
def test_shipped_definitions_pass_every_check() -> None:
    assert check_files(SHIPPED) == []


def test_problems_are_file_line_message_sorted_by_line() -> None:
    text = GOOD.read_text(encoding="utf-8").replace("host: {role: director}", "host: boss")
    text = text.replace("key: days", "key: days, colour: red")
    with pytest.raises(DefinitionError) as caught:
        load_text(text, "/somewhere/else/leave.yaml")
    problems = caught.value.problems
    assert all(re.match(r"^leave\.yaml:\d+: \S", p) for p in problems)
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == sorted(lines) and len(problems) == 2
    assert str(caught.value) == "\n".join(problems)


def test_load_text_names_unnamed_text() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_text("id: [")
    assert caught.value.problems[0].startswith("<text>:1: YAML syntax error: ")


def test_check_files_reports_ids_used_twice_and_unreadable_files(tmp_path: Path) -> None:
    copy = tmp_path / "leave_copy.yaml"
    copy.write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: caf\xe9\n".encode("latin-1"))
    problems = check_files([GOOD, copy, tmp_path / "missing.yaml", bad])
    assert problems == [
        "leave_copy.yaml:2: definition id 'leave_request' is also used by good_minimal.yaml",
        "missing.yaml:1: cannot read the file: No such file or directory",
        "latin1.yaml:1: the file is not UTF-8: invalid continuation byte",
    ]


def test_anchors_and_merge_keys_are_not_duplicates() -> None:
    text = GOOD.read_text(encoding="utf-8").replace(
        "  director:\n    name: {zh: 领导审批, en: Director's approval}\n    host: {role: director}",
        "  director:\n    <<: {name: {zh: 甲, en: A}, host: initiator}\n"
        "    name: {zh: 领导审批, en: Director's approval}\n    host: {role: director}",
    )
    assert "<<" in text
    assert load_text(text).steps["director"].name.en == "Director's approval"


def test_alias_bombs_are_refused_before_validation() -> None:
    rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, prev in zip("bcdefg", "abcdef", strict=True):
        rows.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    with pytest.raises(DefinitionError) as caught:
        load_text("\n".join(rows), "bomb.yaml")
    assert caught.value.problems == [
        f"bomb.yaml:1: the file has more than {DEFINITION_VALUES_MAX} values (aliases?)"
    ]


def test_python_tags_are_refused() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_text("id: !!python/object/apply:os.system ['true']\n", "evil.yaml")
    assert caught.value.problems[0].startswith("evil.yaml:1: YAML error: could not determine")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "id: a\n---\nid: b\n",
            "2: YAML syntax error: expected a single document in the stream but found another document",
        ),
        ("a: [1, 2\nb: 3\n", "2: YAML syntax error: expected ',' or ']', but got ':'"),
        (
            "a: b\n\tc: d\n",
            "2: YAML syntax error: found character '\\t' that cannot start any token",
        ),
    ],
)
def test_yaml_syntax_errors_name_the_line(text: str, problem: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_text(text, "x.yaml")
    assert caught.value.problems == [f"x.yaml:{problem}"]
