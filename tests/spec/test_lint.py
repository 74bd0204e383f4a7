"""The linter used directly, on definitions built in Python rather than read from a file."""

from __future__ import annotations

from typing import Any

from workflow.spec.lint import line_of, lint
from workflow.spec.model import Definition, Names, Step, UnitRef, UserRef

NAME = {"zh": "名", "en": "Name"}


def step(**fields: Any) -> dict[str, Any]:
    return {"name": NAME, "host": {"role": "clerk"}, **fields}


def definition(**steps: dict[str, Any]) -> Definition:
    return Definition.model_validate({"id": "memo", "name": NAME, "steps": steps})


def test_a_sound_definition_has_no_problems() -> None:
    defn = definition(draft=step(host="initiator", next=["review"]), review=step(can_end=True))
    assert lint(defn, {}, "memo.yaml") == []


def test_without_lines_every_problem_is_at_line_one() -> None:
    defn = definition(draft=step(host="initiator", next=["revew"]), review=step(can_end=True))
    assert lint(defn, {}, "/defs/memo.yaml") == [
        "memo.yaml:1: step 'draft' forwards to 'revew', which is not a step",
        "memo.yaml:1: step 'review' cannot be reached from the first step 'draft'",
        "memo.yaml:1: no end can be reached from step 'draft'",
    ]


def test_no_step_that_can_end_is_one_problem_not_one_per_step() -> None:
    defn = definition(draft=step(host="initiator", next=["review"]), review=step(next=["draft"]))
    assert lint(defn, {("steps",): 7}, "memo.yaml") == [
        "memo.yaml:7: no step has can_end: true, so the flow can never end"
    ]


def test_line_of_takes_the_deepest_known_prefix() -> None:
    lines = {(): 1, ("steps",): 5, ("steps", "draft"): 6, ("steps", "draft", "next", 0): 9}
    assert line_of(lines, ("steps", "draft", "next", 0, "when")) == 9
    assert line_of(lines, ("steps", "review", "host")) == 5
    assert line_of({}, ("id",)) == 1


def test_who_accepts_model_instances() -> None:
    # the engine and tests may build steps in Python rather than from YAML
    built = Step(name=Names(**NAME), host=[UserRef(user="wang"), UnitRef(unit="office")])
    assert built.host == [UserRef(user="wang"), UnitRef(unit="office")]
    assert Step.model_validate(built.model_dump(exclude_unset=True)) == built
