"""Checks a schema-valid definition for what the schema cannot see: graph, people, conditions."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterator, Mapping, Sequence

from workflow.spec.expr import ConditionError, parse
from workflow.spec.model import (
    DEADLINE_RE,
    IDENT,
    RESERVED_STEP_IDS,
    ChooseFrom,
    Definition,
    Step,
    UserRef,
)

#: a place in the YAML document: mapping keys and list indexes from the top
PathKey = tuple[str | int, ...]
Lines = Mapping[PathKey, int]
RESERVED_ORDER = ("ended", "withdrawn", "terminated", "initial", "end")


def line_of(lines: Lines, path: Sequence[str | int]) -> int:
    """The line of the deepest part of ``path`` present in the file (1 if none is)."""
    for end in range(len(path), -1, -1):
        line = lines.get(tuple(path[:end]))
        if line is not None:
            return line
    return 1


def lint(defn: Definition, lines: Lines, filename: str) -> list[str]:
    """Every problem as ``file:line: message``, sorted by line; empty when the definition is sound."""
    name = os.path.basename(filename)
    return [f"{name}:{line}: {message}" for line, message in lint_problems(defn, lines)]


def lint_problems(defn: Definition, lines: Lines) -> list[tuple[int, str]]:
    """Every problem as (line, message), sorted by line."""
    found = _Found(lines)
    for check in (_form, _title, _step_ids, _people, _next, _graph, _waiting, _conditions,
                  _timeouts):  # fmt: skip
        check(defn, found)
    return sorted(found.problems, key=lambda problem: problem[0])


class _Found:
    def __init__(self, lines: Lines) -> None:
        self.lines = lines
        self.problems: list[tuple[int, str]] = []

    def add(self, path: PathKey, message: str) -> None:
        self.problems.append((line_of(self.lines, path), message))


def _form(defn: Definition, found: _Found) -> None:
    first: dict[str, int] = {}
    for index, field in enumerate(defn.form):
        if field.key in first:
            at = line_of(found.lines, ("form", first[field.key], "key"))
            found.add(
                ("form", index, "key"), f"form key '{field.key}' is used twice (first at line {at})"
            )
        first.setdefault(field.key, index)


def _title(defn: Definition, found: _Found) -> None:
    if defn.title is None:
        return
    keys = {field.key for field in defn.form}
    try:
        parts = list(string.Formatter().parse(defn.title))
    except ValueError as err:
        found.add(("title",), f"title {defn.title!r} is not a valid template: {err}")
        return
    for _, key, spec, _ in parts:
        if key is None:
            continue
        # "{x.y}" or "{x[0]}" would reach into the value's attributes when formatted
        if not re.match(IDENT, key) or "{" in (spec or ""):
            found.add(
                ("title",),
                f"title {defn.title!r} may name only form keys in braces, not {{{key}}}",
            )
        elif key not in keys:
            found.add(("title",), f"title {defn.title!r} names '{key}', which is not a form field")


def _step_ids(defn: Definition, found: _Found) -> None:
    for step_id in defn.steps:
        if step_id in RESERVED_STEP_IDS:
            reserved = ", ".join(RESERVED_ORDER)
            found.add(("steps", step_id), f"step id '{step_id}' is reserved ({reserved})")
        elif not re.match(IDENT, step_id):
            found.add(
                ("steps", step_id),
                f"step id {step_id!r} must be lower-case letters, digits and _, "
                "starting with a letter",
            )


def _who_parts(
    value: object, path: PathKey, depth: int = 0
) -> Iterator[tuple[object, PathKey, int]]:
    """Each part of a who value with its path and how many choose_from enclose it."""
    yield value, path, depth
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _who_parts(item, (*path, index), depth)
    elif isinstance(value, ChooseFrom):
        for index, item in enumerate(value.choose_from):
            yield from _who_parts(item, (*path, "choose_from", index), depth + 1)


def _people(defn: Definition, found: _Found) -> None:
    if defn.starters is not None:
        for part, path, _ in _who_parts(defn.starters, ("starters",)):
            _empty_list(part, path, "starters", found)
            if part == "initiator":
                found.add(path, "starters cannot be initiator: nobody has started the flow yet")
            if isinstance(part, ChooseFrom):
                found.add(path, "starters cannot use choose_from: nobody is there to choose")
    for step_id, step in defn.steps.items():
        for role in ("host", "handlers", "co_signers"):
            _step_people(step_id, role, getattr(step, role), found)
    first = defn.first_step
    if defn.steps[first].host != "initiator":
        found.add(("steps", first, "host"), f"the first step '{first}' must have host: initiator")
    for role in ("handlers", "co_signers"):
        if getattr(defn.steps[first], role) is not None:
            found.add(
                ("steps", first, role),
                f"the first step '{first}' is the initiator's own: it cannot have {role}",
            )


def _step_people(step_id: str, role: str, value: object, found: _Found) -> None:
    prefix = f"step '{step_id}': "
    for part, path, depth in _who_parts(value, ("steps", step_id, role)):
        _empty_list(part, path, f"{prefix}{role}", found)
        if not isinstance(part, ChooseFrom):
            continue
        if depth > 0:
            found.add(path, f"{prefix}{role} nests a choose_from in a choose_from")
        _choice(prefix, part, path, found)
        if role == "host":
            _one_host(step_id, part, path, found)


def _empty_list(part: object, path: PathKey, subject: str, found: _Found) -> None:
    if part == []:
        found.add(path, f"{subject} is an empty list, which names nobody")


def _choice(prefix: str, choice: ChooseFrom, path: PathKey, found: _Found) -> None:
    if not choice.choose_from:
        found.add(path, f"{prefix}choose_from: [] names no candidates")
    if choice.max is not None and choice.min > choice.max:
        found.add(path, f"{prefix}choose_from has min {choice.min} greater than max {choice.max}")


def _one_host(step_id: str, choice: ChooseFrom, path: PathKey, found: _Found) -> None:
    bad = [f"min {choice.min}"] if choice.min != 1 else []
    bad += [f"max {choice.max}"] if choice.max not in (None, 1) else []
    if bad:
        found.add(
            path,
            f"step '{step_id}': a step has exactly one host, "
            f"so its choose_from cannot have {' and '.join(bad)}",
        )


def _next(defn: Definition, found: _Found) -> None:
    for step_id, step in defn.steps.items():
        if not step.next and not step.can_end:
            found.add(
                ("steps", step_id), f"step '{step_id}' has no next step and cannot end the flow"
            )
        seen: set[str] = set()
        for index, nxt in enumerate(step.next):
            path = ("steps", step_id, "next", index)
            if nxt.to not in defn.steps:
                found.add(path, f"step '{step_id}' forwards to '{nxt.to}', which is not a step")
            if nxt.to in seen:
                found.add(path, f"step '{step_id}' lists '{nxt.to}' twice in next")
            seen.add(nxt.to)


def _graph(defn: Definition, found: _Found) -> None:
    edges = {
        sid: [n.to for n in step.next if n.to in defn.steps] for sid, step in defn.steps.items()
    }
    reachable = _closure([defn.first_step], edges)
    for step_id in defn.steps:
        if step_id not in reachable:
            found.add(
                ("steps", step_id),
                f"step '{step_id}' cannot be reached from the first step '{defn.first_step}'",
            )
    ends = [sid for sid, step in defn.steps.items() if step.can_end]
    if not ends:
        found.add(("steps",), "no step has can_end: true, so the flow can never end")
        return
    backwards: dict[str, list[str]] = {sid: [] for sid in defn.steps}
    for source, targets in edges.items():
        for target in targets:
            backwards[target].append(source)
    can_end = _closure(ends, backwards)
    for step_id, step in defn.steps.items():
        # a step with no next at all already has its own, more precise message
        if step_id not in can_end and step.next:
            found.add(("steps", step_id), f"no end can be reached from step '{step_id}'")


def _closure(start: list[str], edges: Mapping[str, list[str]]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _waiting(defn: Definition, found: _Found) -> None:
    # a key that changes nothing is a misunderstanding: a definition should say what it means
    for step_id, step in defn.steps.items():
        given = step.model_fields_set
        if "on_reject" in given and step.co_signers is None:
            found.add(
                ("steps", step_id, "on_reject"),
                f"step '{step_id}': on_reject is given but the step has no co_signers",
            )
        if "wait" in given and step.handlers is None and step.co_signers is None:
            found.add(
                ("steps", step_id, "wait"),
                f"step '{step_id}': wait is given but the step has neither handlers nor co_signers",
            )


def _conditions(defn: Definition, found: _Found) -> None:
    fields = {field.key: field for field in defn.form}
    for step_id, step in defn.steps.items():
        for index, nxt in enumerate(step.next):
            if nxt.when is None:
                continue
            path = ("steps", step_id, "next", index, "when")
            try:
                problems = parse(nxt.when).check(fields)
            except ConditionError as err:
                problems = [err.message]
            for problem in problems:
                found.add(path, f"step '{step_id}': {problem}")


def _timeouts(defn: Definition, found: _Found) -> None:
    """A timeout is done by the system: it must be possible without anybody choosing anything."""
    for step_id, step in defn.steps.items():
        if step.remind_before is not None and step.deadline is not None:
            _remind_early(step_id, step.remind_before, step.deadline, found)
        rule = step.on_timeout
        if rule is None:
            continue
        path, prefix = ("steps", step_id, "on_timeout"), f"step '{step_id}': on_timeout"
        nexts = [n.to for n in step.next]
        if rule.action != "forward":
            if rule.to is not None:
                found.add((*path, "to"), f"{prefix}.to is given but {rule.action} goes to no step")
            if rule.action == "end" and not step.can_end:
                why = "the step cannot end it (it has no can_end: true)"
                found.add((*path, "action"), f"{prefix} ends the flow, but {why}")
            continue
        if rule.to is not None and rule.to not in nexts:
            listed = ", ".join(nexts) or "none"
            found.add(
                (*path, "to"),
                f"{prefix} forwards to '{rule.to}', which is not a next step of '{step_id}' "
                f"(next: {listed})",
            )
        elif rule.to is None and len(nexts) != 1:
            has = f"several ({', '.join(nexts)})" if nexts else "none"
            found.add(path, f"{prefix} forwards but names no 'to', and the step has {has}")
        target = rule.to if rule.to in nexts else (nexts[0] if len(nexts) == 1 else None)
        why = _needs_choice(defn.steps[target]) if target in defn.steps else None
        if why:
            found.add(
                path, f"{prefix} cannot forward to '{target}': {why}; the system chooses nobody"
            )


def _needs_choice(step: Step) -> str | None:
    """Why forwarding to ``step`` needs the forwarding host to choose people, if it does."""
    host = step.host
    if host == "anyone":
        return "its host is chosen among everyone"
    if isinstance(host, ChooseFrom) and not (
        len(host.choose_from) == 1 and isinstance(host.choose_from[0], UserRef)
    ):
        return "its host is chosen (choose_from)"
    for role in ("handlers", "co_signers"):
        who = getattr(step, role)
        if isinstance(who, ChooseFrom) and who.min > 0:
            return f"its {role} are chosen (choose_from with min {who.min})"
    return None


#: minutes in a duration's unit; a working day is at least a day
_MINUTES = {"minute": 1, "hour": 60, "day": 1440, "working day": 1440}


def _remind_early(step_id: str, remind: str, deadline: str, found: _Found) -> None:
    """A reminder no shorter than the deadline would come before the step arrives."""
    (rn, ru), (dn, du) = (_duration(remind), _duration(deadline))
    if ru == "working day" and du == "working day":
        late = rn >= dn
    else:  # a working-day deadline can be any length above its days: compare only when it is not
        late = du != "working day" and rn * _MINUTES[ru] >= dn * _MINUTES[du]
    if late:
        found.add(
            ("steps", step_id, "remind_before"),
            f"step '{step_id}': remind_before '{remind}' is not shorter than the deadline "
            f"'{deadline}'",
        )


def _duration(text: str) -> tuple[int, str]:
    match = DEADLINE_RE.match(text)
    assert match is not None  # the schema checked it
    return int(match.group(1)), match.group(2).removesuffix("s")
