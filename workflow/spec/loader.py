"""Load a definition file: YAML with line numbers, validated by the model, then linted."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from workflow.errors import DefinitionError
from workflow.limits import (
    DEFINITION_BYTES_MAX,
    DEFINITION_DEPTH_MAX,
    DEFINITION_STEPS_MAX,
    DEFINITION_VALUES_MAX,
)
from workflow.spec.lint import Lines, PathKey, line_of, lint_problems
from workflow.spec.model import IDENT, WHO_SHAPES, Definition

#: more nodes than this means aliases multiplying out ("billion laughs"), not a definition
MAX_NODES = DEFINITION_VALUES_MAX
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SHOULD = {
    "model_type": "should be a mapping",
    "model_attributes_type": "should be a mapping",
    "dict_type": "should be a mapping",
    "list_type": "should be a list",
    "string_type": "should be text",
    "bool_type": "should be true or false",
    "bool_parsing": "should be true or false",
    "int_type": "should be a whole number",
    "int_parsing": "should be a whole number",
    "int_from_float": "should be a whole number",
    "float_type": "should be a number",
    "float_parsing": "should be a number",
    "too_short": "should not be empty",
}
_PATTERNS = {IDENT: "should be lower-case letters, digits and _, starting with a letter"}


def load_file(path: str | os.PathLike[str]) -> Definition:
    """Load and check one definition file; raises DefinitionError listing every problem."""
    return _load(read_definition(path), os.fspath(path))[0]


def load_text(text: str, filename: str = "<text>") -> Definition:
    """Load and check a definition from text; ``filename`` names it in the problems."""
    return _load(text, filename)[0]


def load_with_lines(path: str | os.PathLike[str]) -> tuple[Definition, Lines]:
    """Load and check one definition file, with the line of every path in it (for checks
    made later against the organisation: ``workflow/org/defcheck.py``)."""
    return _load(read_definition(path), os.fspath(path))


def check_files(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Every problem of every file, lint included, plus ids used twice; empty if all are fine."""
    problems: list[str] = []
    owners: dict[str, str] = {}
    for path in paths:
        name = os.path.basename(path)
        try:
            defn, lines = _load(read_definition(path), os.fspath(path))
        except DefinitionError as err:
            problems.extend(err.problems)
            continue
        if defn.id in owners:
            line = line_of(lines, ("id",))
            problems.append(
                f"{name}:{line}: definition id '{defn.id}' is also used by {owners[defn.id]}"
            )
        owners.setdefault(defn.id, name)
    return problems


def read_definition(path: str | os.PathLike[str]) -> str:
    """A definition file's text, read no further than :data:`DEFINITION_BYTES_MAX` bytes.

    A larger file (or one that never ends, such as /dev/zero) is refused unread past the limit;
    bytes that are not UTF-8 and NUL characters are refused with the line they are on.
    Raises:
        DefinitionError: ``file:line: message`` (``file: message`` where no line applies).
    """
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            data = f.read(DEFINITION_BYTES_MAX + 1)
    except OSError as err:
        raise DefinitionError([f"{name}:1: cannot read the file: {err.strerror or err}"]) from err
    if len(data) > DEFINITION_BYTES_MAX:
        raise DefinitionError([_too_big(name)])
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise DefinitionError(
            [f"{name}:{line}: the file contains a NUL byte: it is not a text file"]
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DefinitionError([f"{name}:{line}: the file is not UTF-8: {err.reason}"]) from err


def _too_big(name: str) -> str:
    return f"{name}: the file is larger than {DEFINITION_BYTES_MAX} bytes, the most a definition may have"


def _load(text: str, filename: str) -> tuple[Definition, Lines]:
    name = os.path.basename(filename)
    if len(text) > DEFINITION_BYTES_MAX:  # text given directly (load_text): characters ≤ bytes
        raise DefinitionError([_too_big(name)])
    try:
        return _checked(text, name)
    except RecursionError:
        # depth is limited while composing; aliases nesting aliases can still go deeper
        raise DefinitionError(
            [f"{name}: the file nests values too deeply (aliases inside aliases?)"]
        ) from None


def _checked(text: str, name: str) -> tuple[Definition, Lines]:
    data, lines, problems = _parse_yaml(text, name)
    steps = data.get("steps")
    if isinstance(steps, dict) and len(steps) > DEFINITION_STEPS_MAX:
        # said before validation, which would otherwise report each of thousands of steps
        line = line_of(lines, ("steps",))
        raise DefinitionError(
            [
                f"{name}:{line}: a definition may have at most {DEFINITION_STEPS_MAX} steps, not {len(steps)}"
            ]
        )
    defn = None
    try:
        defn = Definition.model_validate(data)
    except ValidationError as err:
        for error in err.errors(include_url=False):
            path, message = _explain(error, data)
            problems.append((line_of(lines, path), message))
    # with a duplicate key the document's meaning is a guess: linting that guess adds noise
    if defn is not None and not problems:
        problems += lint_problems(defn, lines)
    if problems:
        ordered = sorted(dict.fromkeys(problems), key=lambda problem: problem[0])
        raise DefinitionError([f"{name}:{line}: {message}" for line, message in ordered])
    assert defn is not None
    return defn, lines


class _TooDeep(Exception):
    """Nesting deeper than DEFINITION_DEPTH_MAX, at this line."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _Loader(yaml.SafeLoader):
    """A SafeLoader that notes duplicate keys instead of letting the last one silently win."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        # PyYAML composes and constructs recursively: a deep file would end in RecursionError
        self.depth += 1
        try:
            if self.depth > DEFINITION_DEPTH_MAX:
                line = self.peek_event().start_mark.line + 1
                raise _TooDeep(line)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            line = key_node.start_mark.line + 1
            key = (key_node.tag, key_node.value)
            if key in first:
                message = f"duplicate key {key_node.value!r} (first at line {first[key]})"
                self.duplicates.append((line, message))
            first.setdefault(key, line)
        return super().construct_mapping(node, deep)


def _parse_yaml(text: str, name: str) -> tuple[dict[str, Any], Lines, list[tuple[int, str]]]:
    """The document as data, the line of every path in it, and its duplicate keys."""
    try:
        loader = _Loader(text)  # the reader refuses control characters here already
    except yaml.reader.ReaderError as err:
        raise DefinitionError([_unprintable(name, text, err)]) from err
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 1
        # a constructor error is valid YAML with a tag we refuse, such as !!python/object
        what = "YAML error" if isinstance(err, ConstructorError) else "YAML syntax error"
        raise DefinitionError([f"{name}:{line}: {what}: {_yaml_reason(err)}"]) from err
    except _TooDeep as err:
        raise DefinitionError(
            [f"{name}:{err.line}: values are nested more than {DEFINITION_DEPTH_MAX} levels deep"]
        ) from None
    except yaml.reader.ReaderError as err:
        raise DefinitionError([_unprintable(name, text, err)]) from err
    except yaml.YAMLError as err:
        raise DefinitionError([f"{name}:1: YAML syntax error: {err}"]) from err
    finally:
        loader.dispose()
    if node is None or data is None:
        raise DefinitionError([f"{name}:1: the file is empty"])
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else repr(data)
        line = node.start_mark.line + 1
        raise DefinitionError(
            [
                f"{name}:{line}: the top level should be a mapping with id, name, form and steps, not {kind}"
            ]
        )
    return data, _lines(node, name), list(dict.fromkeys(loader.duplicates))


def _unprintable(name: str, text: str, err: yaml.reader.ReaderError) -> str:
    line = text.count("\n", 0, err.position) + 1
    code = err.character if isinstance(err.character, int) else ord(err.character)
    return f"{name}:{line}: YAML error: the control character U+{code:04X} is not allowed"


def _yaml_reason(err: yaml.MarkedYAMLError) -> str:
    # "expected a single document in the stream" + "but found another document"
    if err.context and err.problem and err.problem.startswith("but "):
        return f"{err.context} {err.problem}"
    return err.problem or err.context or "unreadable YAML"


def _lines(root: Node, name: str) -> dict[PathKey, int]:
    """Path → line for every mapping entry (the key's line) and list item."""
    lines: dict[PathKey, int] = {(): root.start_mark.line + 1}
    todo: list[tuple[Node, PathKey]] = [(root, ())]
    while todo:
        node, path = todo.pop()
        if isinstance(node, MappingNode):
            children = [
                (k.value if isinstance(k, ScalarNode) else repr(k), k, v) for k, v in node.value
            ]
        elif isinstance(node, SequenceNode):
            children = [(index, item, item) for index, item in enumerate(node.value)]
        else:
            continue
        for key, marked, value in children:
            lines[(*path, key)] = marked.start_mark.line + 1
            todo.append((value, (*path, key)))
        if len(lines) > MAX_NODES:
            raise DefinitionError(
                [f"{name}:1: the file has more than {MAX_NODES} values (aliases?)"]
            )
    return lines


def _explain(error: ErrorDetails, data: dict[str, Any]) -> tuple[PathKey, str]:
    """Where a pydantic error is and what it means, in the definition's own words."""
    # the Who union's tags ("who:role") are pydantic's, not keys of the file
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("who:")))
    prefix, rest = _context(loc, data)
    kind = error["type"]
    if kind == "missing":
        return loc, f"{prefix}missing key '{rest[-1]}'"
    if kind == "extra_forbidden":
        where = f" in {_dotted(rest[:-1])}" if rest[:-1] else ""
        return loc, f"{prefix}unknown key '{rest[-1]}'{where}"
    if kind == "who":
        return loc, f"{prefix}{rest[0]} must be {WHO_SHAPES}, not {_show(error['input'])}"
    if kind == "value_error":
        return loc, prefix + str(error.get("ctx", {}).get("error", error["msg"]))
    subject = _dotted(rest) if rest else prefix.rstrip(": ")
    prefix = prefix if rest else ""
    return loc, f"{prefix}{subject} {_should(error)}"


def _context(loc: PathKey, data: dict[str, Any]) -> tuple[str, PathKey]:
    """Who the error is about ("step 'draft': ") and the rest of its location."""
    if len(loc) >= 2 and loc[0] == "steps":
        return f"step '{loc[1]}': ", loc[2:]
    if len(loc) >= 2 and loc[0] == "form" and isinstance(loc[1], int):
        form = data.get("form")
        item = form[loc[1]] if isinstance(form, list) and loc[1] < len(form) else None
        key = item.get("key") if isinstance(item, dict) else None
        label = f"field '{key}'" if isinstance(key, str) else f"form item {loc[1] + 1}"
        return f"{label}: ", loc[2:]
    return "", loc


def _dotted(path: PathKey) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _should(error: ErrorDetails) -> str:
    kind, value = error["type"], error["input"]
    if kind == "string_pattern_mismatch":
        text = _PATTERNS.get(error.get("ctx", {}).get("pattern", ""), error["msg"].lower())
    else:
        text = _SHOULD.get(kind) or _drop_subject(error["msg"])
    if kind in ("too_short", "too_long", "string_too_long"):  # the value itself is no help
        return text
    if isinstance(value, bool) and kind == "string_type":
        # YAML 1.1 reads yes/no/on/off as booleans: the usual cause of this error
        return f"{text}, not {_show(value)} (quote it: YAML reads yes, no, on and off as true or false)"
    return f"{text}, not {_show(value)}"


def _drop_subject(message: str) -> str:
    """'Input should be …' → 'should be …': the caller puts the key's name in front."""
    others = message.partition(" ")[2]
    return others if others.startswith("should") else message[0].lower() + message[1:]


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"
