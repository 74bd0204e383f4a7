"""Type checks of a condition against the form's fields: the linter's half of the condition language."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from workflow.spec.model import NUMBER_TYPES, FormField

if TYPE_CHECKING:
    from workflow.spec.expr import Condition

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LIST_TYPES = ("users", "files")

_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_KIND_WORDS = {
    "number": "a number",
    "string": "a string",
    "bool": "true or false",
    "none": "None",
    "list": "a list",
}


def _field_kind(field: FormField) -> str:
    if field.type in NUMBER_TYPES:
        return "number"
    return "list" if field.type in LIST_TYPES else "string"


class Checker:
    """Infers a rough type for each node and records what does not fit."""

    def __init__(self, condition: Condition, fields: Mapping[str, FormField]) -> None:
        self.source = condition.source
        self.fields = fields
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        message = f"condition {self.source!r} {text}"
        if message not in self.problems:
            self.problems.append(message)

    def field(self, node: ast.expr) -> FormField | None:
        return self.fields.get(node.id) if isinstance(node, ast.Name) else None

    def describe(self, node: ast.expr, kind: str) -> str:
        field = self.field(node)
        if field is not None:
            return f"'{field.key}' ({field.type})"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return f"{node.value!r} ({_KIND_WORDS[kind]})"
        text = ast.get_source_segment(self.source, node) or ast.unparse(node)
        return f"{text} ({_KIND_WORDS.get(kind, 'unknown')})"

    def kind(self, node: ast.expr) -> str:
        """One of number, string, bool, none, list or any (unknown: already reported)."""
        if isinstance(node, ast.Constant):
            return _constant_kind(node.value)
        if isinstance(node, ast.Name):
            return self.name_kind(node)
        if isinstance(node, ast.List | ast.Tuple):
            for element in node.elts:
                self.plain(element)
            return "list"
        if isinstance(node, ast.Call):  # only len(x) gets this far
            if self.kind(node.args[0]) not in ("list", "string", "any"):
                self.problem(f"takes len() of {self.describe(node.args[0], 'number')}")
            return "number"
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.kind(value)
            return "bool"
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        assert isinstance(node, ast.Compare)
        sides = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, sides, sides[1:], strict=False):
            self.compare(op, left, right)
        return "bool"

    def name_kind(self, node: ast.Name) -> str:
        field = self.fields.get(node.id)
        if field is None:
            self.problem(f"names {node.id!r}, which is not a form field")
            return "any"
        return _field_kind(field)

    def plain(self, node: ast.expr) -> str:
        """The kind of a value used as a scalar: a list field here is a mistake."""
        kind = self.kind(node)
        field = self.field(node)
        if field is not None and kind == "list":
            self.problem(
                f"uses '{field.key}' ({field.type}), a list: "
                f"use len({field.key}) or 'x in {field.key}'"
            )
            return "any"
        return kind

    def unary(self, node: ast.UnaryOp) -> str:
        if isinstance(node.op, ast.Not):
            self.kind(node.operand)
            return "bool"
        kind = self.plain(node.operand)
        if kind not in ("number", "any"):
            self.problem(f"negates {self.describe(node.operand, kind)}")
            return "any"  # reported once here, not again by whatever uses the result
        return kind

    def binary(self, node: ast.BinOp) -> str:
        left, right = self.plain(node.left), self.plain(node.right)
        if "any" in (left, right):
            return "any"
        if left == right and (
            left == "number" or (left == "string" and isinstance(node.op, ast.Add))
        ):
            return left
        symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}[type(node.op)]
        self.problem(
            f"cannot apply {symbol} to {self.describe(node.left, left)} "
            f"and {self.describe(node.right, right)}"
        )
        return "any"

    def compare(self, op: ast.cmpop, left: ast.expr, right: ast.expr) -> None:
        if isinstance(op, ast.In | ast.NotIn):
            self.membership(left, right)
        elif isinstance(op, _ORDERING):
            self.ordering(left, right)
        else:
            self.equality(left, right)

    def equality(self, left: ast.expr, right: ast.expr) -> None:
        lk, rk = self.plain(left), self.plain(right)
        if "any" in (lk, rk) or "none" in (lk, rk):
            return
        if lk != rk:
            self.problem(f"compares {self.describe(left, lk)} with {self.describe(right, rk)}")
            return
        for name, other in ((left, right), (right, left)):
            self.value_fits(name, other)

    def value_fits(self, name: ast.expr, other: ast.expr) -> None:
        """A choice field compared with a non-choice, a date with a non-date: never true."""
        field = self.field(name)
        if field is None or not _is_text(other):
            return
        if field.choices and other.value not in {c.value for c in field.choices}:
            allowed = ", ".join(c.value for c in field.choices)
            self.problem(
                f"compares '{field.key}' with {other.value!r}, "
                f"which is not one of its choices ({allowed})"
            )
        if field.type == "date" and not ISO_DATE.match(other.value):
            self.problem(
                f"compares '{field.key}' with {other.value!r}, "
                "which is not a date like '2024-05-31'"
            )

    def ordering(self, left: ast.expr, right: ast.expr) -> None:
        lk, rk = self.plain(left), self.plain(right)
        if "any" in (lk, rk) or lk == rk == "number":
            return
        if self.is_date(left) and self.is_date(right):
            return
        for side in (left, right):
            field = self.field(side)
            if field is not None and field.type != "date" and _field_kind(field) == "string":
                self.problem(
                    f"orders '{field.key}' ({field.type}); only numbers and dates can be ordered"
                )
                return
        for name, other in ((left, right), (right, left)):
            field = self.field(name)
            if field is not None and field.type == "date" and _is_text(other):
                self.value_fits(name, other)  # says the text is not an ISO date
                return
        self.problem(f"compares {self.describe(left, lk)} with {self.describe(right, rk)}")

    def is_date(self, node: ast.expr) -> bool:
        field = self.field(node)
        if field is not None:
            return field.type == "date"
        return isinstance(node, ast.Constant) and bool(ISO_DATE.match(str(node.value)))

    def membership(self, left: ast.expr, right: ast.expr) -> None:
        rk = self.kind(right)
        if isinstance(right, ast.List | ast.Tuple):
            for element in right.elts:
                self.equality(left, element)
            return
        lk = self.plain(left)
        if "any" in (lk, rk) or (lk == "string" and rk in ("string", "list")):
            return
        self.problem(f"looks for {self.describe(left, lk)} in {self.describe(right, rk)}")


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _constant_kind(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str) else "number"


# --- evaluation ------------------------------------------------------------------------------
