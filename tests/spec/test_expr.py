"""The condition language: what it evaluates to, what it refuses, what types it accepts."""

from __future__ import annotations

import ast
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.spec.expr import ConditionError, parse
from workflow.spec.model import FormField

LABEL = {"zh": "字段", "en": "Field"}
SEALS = ("company", "contract", "legal_representative")
FIELDS = {
    f.key: f
    for f in [
        FormField(key="amount", type="money", label=LABEL),
        FormField(key="copies", type="integer", label=LABEL),
        FormField(key="title", type="text", label=LABEL),
        FormField(key="due", type="date", label=LABEL),
        FormField(key="owner", type="user", label=LABEL),
        FormField(key="signers", type="users", label=LABEL),
        FormField(key="attachments", type="files", label=LABEL),
        FormField.model_validate(
            {
                "key": "seal",
                "type": "choice",
                "label": LABEL,
                "choices": [{"value": v, "label": LABEL} for v in SEALS],
            }
        ),
    ]
}


def holds(source: str, **form: Any) -> bool:
    return parse(source).evaluate(form, FIELDS)


@pytest.mark.parametrize(
    ("source", "form", "expected"),
    [
        ("amount >= 500000", {"amount": "500000.00"}, True),
        ("amount >= 500000", {"amount": "499999.99"}, False),
        ("amount >= 500000", {"amount": Decimal("600000")}, True),
        ("amount >= 500000", {"amount": 500000}, True),
        ("amount > 0.1 + 0.2", {"amount": "0.30"}, False),  # decimal literals, not floats
        ("amount * 1.5 > 100", {"amount": "70"}, True),
        ("copies / 2 == 1.5", {"copies": 3}, True),
        ("seal in ['company', 'contract']", {"seal": "contract"}, True),
        ("seal not in ('company', 'contract')", {"seal": "company"}, False),
        ("'bob' in signers", {"signers": ["alice", "bob"]}, True),
        ("len(signers) >= 2 and len(attachments) == 0", {"signers": ["a", "b"]}, True),
        ("amount > 10 or title == 'urgent'", {"amount": "1", "title": "urgent"}, True),
        ("not (amount > 10) and 'x' in title", {"amount": "1", "title": "box"}, True),
        ("due < '2026-06-01'", {"due": "2026-05-31"}, True),
        ("-amount < 0", {"amount": "5"}, True),
    ],
)
def test_evaluate(source: str, form: dict[str, Any], expected: bool) -> None:
    assert holds(source, **form) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("amount >= 500000", False),  # a missing value is neither large nor small
        ("amount < 500000", False),
        ("amount * 2 > 1 or amount / 2 < 1", False),  # arithmetic on missing stays missing
        ("amount == None", True),
        ("amount != 5", True),
        ("'bob' in signers", False),  # a missing list holds nobody
        ("'bob' not in signers", True),
        ("len(signers) == 0", True),
        ("amount / 0 > 1", False),  # division by zero is unknown, not a crash
    ],
)
def test_missing_values_never_raise(source: str, expected: bool) -> None:
    assert holds(source) is expected
    assert holds(source, amount="", signers=None) is expected


@pytest.mark.parametrize("value", ["lots", "NaN", "Infinity", True])
def test_a_number_field_that_is_not_a_number_is_an_error(value: object) -> None:
    with pytest.raises(ConditionError, match=f"field 'amount' is not a number: {value!r}"):
        holds("amount > 5", amount=value)


def test_dates_compare_as_iso_text() -> None:
    assert holds("due < '2026-06-01'", due=date(2026, 5, 31)) is True
    assert holds("due >= '2026-06-01'", due=date(2026, 5, 31)) is False


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("__import__('os')", "calls __import__(); only len() may be called"),
        ("amount.__class__", "uses attribute access (.__class__), which conditions do not allow"),
        ("signers[0] == 'a'", "uses subscripts (x[…]), which conditions do not allow"),
        ("(lambda: 1)()", "calls something other than len(), which conditions do not allow"),
        ("[x for x in signers]", "uses comprehensions, which conditions do not allow"),
        ("f'{title}' == 'a'", "uses f-strings, which conditions do not allow"),
        ("(n := 5) > 1", "uses assignment (:=), which conditions do not allow"),
        (
            "1 if amount else 2",
            "uses conditional expressions (… if … else …), which conditions do not allow",
        ),
        ("amount ** 99 > 1", "uses the operator **, which conditions do not allow"),
        ("amount is None", "uses 'is', which conditions do not allow: write == or !="),
        ("len(signers, 2)", "calls len() with other than exactly one argument"),
        ("{1: 2}", "uses dict literals, which conditions do not allow"),
        ("_secret > 1", "uses the name '_secret', which conditions do not allow"),
        ("amount >=", "is not a valid expression: invalid syntax"),
        ("amount = 5", "is not a valid expression: invalid syntax (compare with ==, not =)"),
        ("import os", "is not a valid expression: invalid syntax"),
    ],
)
def test_refusals(source: str, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse(source)
    assert caught.value.message == f"condition {source!r} {message}"


def test_empty_and_overlong_conditions_are_refused() -> None:
    with pytest.raises(ConditionError, match="is empty"):
        parse("  ")
    with pytest.raises(ConditionError, match="longer than 1000 characters"):
        parse("amount > 1 and " * 100 + "True")


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("amont >= 5", "names 'amont', which is not a form field"),
        ("amount == 'big'", "compares 'amount' (money) with 'big' (a string)"),
        ("copies > '3'", "compares 'copies' (integer) with '3' (a string)"),
        ("title == 3", "compares 'title' (text) with 3 (a number)"),
        ("title > 'm'", "orders 'title' (text); only numbers and dates can be ordered"),
        ("owner < 5", "orders 'owner' (user); only numbers and dates can be ordered"),
        (
            "seal == 'legal_rep'",
            "compares 'seal' with 'legal_rep', which is not one of its choices "
            "(company, contract, legal_representative)",
        ),
        (
            "seal in ['company', 'stamp']",
            "compares 'seal' with 'stamp', which is not one of its choices "
            "(company, contract, legal_representative)",
        ),
        (
            "due > '31/05/2026'",
            "compares 'due' with '31/05/2026', which is not a date like '2024-05-31'",
        ),
        ("due > 5", "compares 'due' (date) with 5 (a number)"),
        ("signers == 2", "uses 'signers' (users), a list: use len(signers) or 'x in signers'"),
        (
            "attachments > 0",
            "uses 'attachments' (files), a list: use len(attachments) or 'x in attachments'",
        ),
        ("title + 1 > 2", "cannot apply + to 'title' (text) and 1 (a number)"),
        ("len(amount) > 1", "takes len() of 'amount' (money)"),
        ("-title == 'a'", "negates 'title' (text)"),
        ("5 in amount", "looks for 5 (a number) in 'amount' (money)"),
    ],
)
def test_type_checks(source: str, problem: str) -> None:
    assert parse(source).check(FIELDS) == [f"condition {source!r} {problem}"]


@pytest.mark.parametrize(
    "source",
    [
        "amount >= 500000 and seal == 'company'",
        "due >= '2026-01-01' and due < '2027-01-01'",
        "owner == 'wang' or 'wang' in signers or 'draft' in title",
        "len(title) > 3 and copies * 2 + 1 <= amount",
        "amount == None",
        "seal in ('company', 'contract')",
    ],
)
def test_sound_conditions_have_no_problems(source: str) -> None:
    assert parse(source).check(FIELDS) == []


def test_conditions_are_parsed_once() -> None:
    assert parse("amount > 1") is parse("amount > 1")
    assert parse("len(signers) > 1 and amount > copies").names == {"signers", "amount", "copies"}


def test_evaluation_is_safe_across_threads() -> None:
    condition = parse("amount >= 100")

    def run(n: int) -> bool:
        return condition.evaluate({"amount": str(n)}, FIELDS) is (n >= 100)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(run, range(400)))


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2))
def test_money_compares_like_decimal(amount: Decimal) -> None:
    assert holds("amount >= 500000.5", amount=f"{amount:.2f}") is (amount >= Decimal("500000.5"))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused_cleanly(source: str) -> None:
    try:
        condition = parse(source)
    except ConditionError:
        return
    condition.check(FIELDS)


def test_the_spec_package_never_calls_eval_or_exec() -> None:
    package = Path(__file__).resolve().parents[2] / "workflow" / "spec"
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        called = {
            n.func.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        assert not called & {"eval", "exec", "compile", "__import__"}, module.name
