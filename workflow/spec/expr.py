"""The condition language of ``next: when:``: a small, safe subset of Python expressions."""

from __future__ import annotations

import ast
import dataclasses
import operator
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from simpleeval import EvalWithCompoundTypes, InvalidExpression, safe_add, safe_mult

from workflow.errors import BanliError
from workflow.spec.model import NUMBER_TYPES, Definition, FormField
from workflow.spec.typecheck import Checker

MAX_SOURCE_LENGTH = 1000
SINGLE_EQUALS = re.compile(r"(?<![=!<>])=(?!=)")
_ALLOWED = (
    *(ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd),
    *(ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Compare, ast.Eq, ast.NotEq),
    *(ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.List, ast.Tuple, ast.Load),
)
_REFUSED: dict[type, str] = {
    ast.Subscript: "subscripts (x[…])",
    ast.Slice: "slices",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.JoinedStr: "f-strings",
    ast.NamedExpr: "assignment (:=)",
    ast.IfExp: "conditional expressions (… if … else …)",
    ast.Dict: "dict literals",
    ast.Set: "set literals",
    ast.Starred: "starred expressions (*x)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
_OPERATOR_SYMBOLS: dict[type, str] = {
    **{ast.Mod: "%", ast.FloorDiv: "//", ast.Pow: "**", ast.MatMult: "@", ast.Invert: "~"},
    **{ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&"},
}


class ConditionError(BanliError):
    """A condition that cannot be parsed, uses what the language refuses, or cannot be evaluated."""


@dataclass(frozen=True, eq=False)
class Condition:
    """A parsed condition: check it against a form once, evaluate it on every transition."""

    source: str
    tree: ast.expr = dataclasses.field(repr=False)
    #: the form keys the condition reads
    names: frozenset[str]

    def check(self, fields: Mapping[str, FormField]) -> list[str]:
        """Problems of names and types against the form's fields; empty when the condition is sound."""
        checker = Checker(self, fields)
        checker.kind(self.tree)
        return checker.problems

    def evaluate(self, form: Mapping[str, Any], fields: Mapping[str, FormField]) -> bool:
        """Whether the condition holds for these form values; missing values are None."""
        names = {key: _value(key, form.get(key), fields.get(key)) for key in self.names}
        evaluator = _evaluator()
        evaluator.names = names
        try:
            return bool(evaluator.eval(self.source, previously_parsed=self.tree))
        except (InvalidExpression, TypeError, ValueError, ArithmeticError) as err:
            raise ConditionError(
                "condition_failed", condition=repr(self.source), error=str(err)
            ) from err
        finally:
            evaluator.names = {}


@lru_cache(maxsize=1024)
def parse(source: str) -> Condition:
    """Parse and vet a condition; raises ConditionError naming what is wrong."""
    text = source.strip()
    if not text:
        raise ConditionError("condition_empty", condition=repr(source))
    if len(text) > MAX_SOURCE_LENGTH:
        raise ConditionError("condition_too_long", max=MAX_SOURCE_LENGTH)
    try:
        tree = ast.parse(text, mode="eval")  # parsing only: nothing here ever runs Python
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        reason = getattr(err, "msg", None) or type(err).__name__
        if SINGLE_EQUALS.search(text):
            reason += " (compare with ==, not =)"
        raise ConditionError("condition_invalid", condition=repr(text), reason=reason) from err
    for node in ast.walk(tree):
        refusal = _refusal(node)
        if refusal:
            raise ConditionError("condition_refused", condition=repr(text), refusal=refusal)
    body = _Decimals().visit(tree).body
    called = {id(n.func) for n in ast.walk(body) if isinstance(n, ast.Call)}
    names = frozenset(
        n.id for n in ast.walk(body) if isinstance(n, ast.Name) and id(n) not in called
    )
    return Condition(text, body, names)


def compiled_conditions(defn: Definition) -> dict[tuple[str, str], Condition]:
    """The parsed ``when`` of every conditional next step, keyed by (step id, target step id)."""
    return {
        (step_id, nxt.to): parse(nxt.when)
        for step_id, step in defn.steps.items()
        for nxt in step.next
        if nxt.when is not None
    }


def _refusal(node: ast.AST) -> str | None:
    """Why this node is outside the language, or None if it is allowed."""
    if isinstance(node, _ALLOWED):
        return None
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            return f"uses the name {node.id!r}, which conditions do not allow"
        return None
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, int | float | str):
            return None
        return f"uses the literal {node.value!r}, which conditions do not allow"
    if isinstance(node, ast.Call):
        return _call_refusal(node)
    if isinstance(node, ast.Attribute):
        return f"uses attribute access (.{node.attr}), which conditions do not allow"
    if isinstance(node, ast.Is | ast.IsNot):
        return "uses 'is', which conditions do not allow: write == or !="
    if type(node) in _OPERATOR_SYMBOLS:
        return f"uses the operator {_OPERATOR_SYMBOLS[type(node)]}, which conditions do not allow"
    what = _REFUSED.get(type(node), type(node).__name__)
    return f"uses {what}, which conditions do not allow"


def _call_refusal(node: ast.Call) -> str | None:
    if not isinstance(node.func, ast.Name):
        return "calls something other than len(), which conditions do not allow"
    if node.func.id != "len":
        return f"calls {node.func.id}(); only len() may be called"
    if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
        return "calls len() with other than exactly one argument"
    return None


class _Decimals(ast.NodeTransformer):
    """Turn float literals into Decimals so they mix with money values (Decimal + float fails)."""

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if isinstance(node.value, float):
            return ast.copy_location(ast.Constant(Decimal(repr(node.value))), node)
        return node


# --- type checking against the form ----------------------------------------------------------


def _value(key: str, raw: Any, field: FormField | None) -> Any:
    """A form value as conditions see it: numbers as Decimal, dates as ISO text, blanks as None."""
    if field is not None and field.type == "date" and isinstance(raw, date):
        return raw.isoformat()[:10]  # conditions compare dates with 'YYYY-MM-DD' text
    if field is None or field.type not in NUMBER_TYPES:
        return raw
    if raw is None or raw == "":
        return None
    try:
        if isinstance(raw, bool):
            raise InvalidOperation
        number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))
    except InvalidOperation as err:
        raise ConditionError("condition_not_number", field=repr(key), value=repr(raw)) from err
    if not number.is_finite():
        raise ConditionError("condition_not_number", field=repr(key), value=repr(raw))
    return number


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """A missing value is neither smaller nor larger than anything: the comparison is False."""
    return lambda a, b: a is not None and b is not None and compare(a, b)


def _arithmetic(apply: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Arithmetic on a missing value gives a missing value, which then compares False."""
    return lambda a, b: None if a is None or b is None else apply(a, b)


def _divide(a: Any, b: Any) -> Any:
    if b == 0:
        return None  # unknown, like a missing value: compares False
    if isinstance(a, int | Decimal) and isinstance(b, int | Decimal):
        return Decimal(a) / Decimal(b)  # int / int would be a float, which Decimal refuses
    return a / b


OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: _arithmetic(safe_add),
    ast.Sub: _arithmetic(operator.sub),
    ast.Mult: _arithmetic(safe_mult),
    ast.Div: _arithmetic(_divide),
    ast.USub: lambda a: None if a is None else -a,
    ast.UAdd: lambda a: a,
    ast.Not: operator.not_,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: _ordered(operator.lt),
    ast.LtE: _ordered(operator.le),
    ast.Gt: _ordered(operator.gt),
    ast.GtE: _ordered(operator.ge),
    # a missing list or text contains nothing
    ast.In: lambda a, b: b is not None and a in b,
    ast.NotIn: lambda a, b: b is None or a not in b,
}
_local = threading.local()


def _len(value: Any) -> int:
    return 0 if value is None else len(value)


def _evaluator() -> EvalWithCompoundTypes:
    """One evaluator per thread: building one per call costs more than the evaluation."""
    evaluator = getattr(_local, "evaluator", None)
    if evaluator is None:
        evaluator = EvalWithCompoundTypes(operators=dict(OPERATORS), functions={"len": _len})
        _local.evaluator = evaluator
    return evaluator
