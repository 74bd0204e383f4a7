"""Every refusal the code raises names a code of the catalogue (workflow/refusals.py), passes
exactly the params its sentence names, and has a Chinese translation; the catalogue holds nothing
unused."""

from __future__ import annotations

import ast
import pickle
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from workflow import refusals
from workflow.errors import AlreadyHandled, FormInvalid, RoleNotAllowed
from workflow.refusals import SENTENCES, TERMS, Either, FieldError, Term

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
SOURCES = sorted([*(ROOT / "workflow").rglob("*.py"), *(ROOT / "web").rglob("*.py")])
# Classes whose constructor takes no code: they always say the same thing (their code is fixed).
FIXED = {"FormInvalid": "form_invalid", "DefinitionError": "definition_invalid"}


def _refusal_classes() -> set[str]:
    """Every class in workflow/ and web/ that is (transitively) a BanliError, by name."""
    bases: dict[str, set[str]] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                bases[node.name] = names
    found = {"BanliError"}
    while True:
        more = {name for name, parents in bases.items() if parents & found} - found
        if not more:
            return found
        found |= more


REFUSAL_CLASSES = _refusal_classes()
MAKERS = REFUSAL_CLASSES | {"FieldError", "Bad"}  # Bad: one form field's problem (forms.py)


def _calls() -> list[tuple[str, ast.Call]]:
    """Every construction of a refusal or a field message, as ``file:line`` and its call."""
    calls = []
    for path in SOURCES:
        if path.name in ("refusals.py", "errors.py"):
            continue  # the catalogue and the classes themselves
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name in MAKERS:
                    calls.append((f"{path.relative_to(ROOT)}:{node.lineno} {name}", node))
    return calls


CALLS = _calls()


def _codes(call: ast.Call) -> list[str] | None:
    """The codes a call may pass: a literal, or either side of ``a if … else b``; None when it
    passes on the code of another refusal (``problem.code``)."""
    if not call.args:
        return []
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return [first.value]
    if isinstance(first, ast.IfExp):
        sides = (first.body, first.orelse)
        if all(isinstance(s, ast.Constant) and isinstance(s.value, str) for s in sides):
            return [s.value for s in sides]  # type: ignore[attr-defined]
    if (isinstance(first, ast.Attribute) and first.attr == "code") or (
        isinstance(first, ast.Name) and first.id == "code"
    ):
        return None
    return []


def test_the_walk_finds_the_refusals():
    assert {"NotFound", "Hidden", "WaitingRuleUnmet", "DingQuotaExceeded", "QuotaExceeded",
            "ConditionError", "RevokeExpired"} <= REFUSAL_CLASSES  # fmt: skip
    assert len(CALLS) > 150


@pytest.mark.parametrize(("where", "call"), CALLS, ids=[w for w, _ in CALLS])
def test_every_refusal_passes_a_code_of_the_catalogue_and_its_params(where, call):
    name = where.split()[-1]
    if name in FIXED:
        return
    codes = _codes(call)
    if codes is None:  # forwarded: its code was checked where it was made
        return
    if name == "Busy" and not call.args:
        codes = ["database_busy"]
    assert codes, f"{where}: passes no code"
    spread = any(k.arg is None for k in call.keywords)  # **params: checked by rendering below
    given = {k.arg for k in call.keywords if k.arg}
    for code in codes:
        assert code in SENTENCES, f"{where}: {code!r} is not in the catalogue"
        needed = set(PLACEHOLDER.findall(SENTENCES[code]))
        assert spread or needed == given, f"{where}: {code} names {needed}, given {given}"


def test_every_code_of_the_catalogue_is_used():
    text = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES if p.name != "refusals.py")
    unused = [code for code in SENTENCES if f'"{code}"' not in text]
    assert unused == []


def _zh() -> dict[str, str]:
    path = ROOT / "web" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_every_sentence_has_chinese_with_the_same_placeholders(code):
    chinese = _zh().get(SENTENCES[code])
    assert chinese, f"{code}: no Chinese for {SENTENCES[code]!r}"
    assert set(PLACEHOLDER.findall(chinese)) == set(PLACEHOLDER.findall(SENTENCES[code]))
    assert not re.search(r"[A-Za-z]", PLACEHOLDER.sub("", chinese).replace("NUL", "")), chinese


def test_every_word_of_the_catalogue_has_chinese():
    zh = _zh()
    words = [*TERMS.values(), refusals.LIST_SEPARATOR, refusals.EITHER, refusals.FIELD,
             refusals.FIELD_SEPARATOR, refusals.QUOTE, refusals.LANGUAGE,
             *refusals.DURATIONS.values()]  # fmt: skip
    assert [w for w in words if w not in zh] == []


# --- what str() says: the English sentence, for the command line and the logs ---------------


def test_str_is_the_english_sentence_with_its_specifics():
    at = datetime(2026, 3, 2, 9, 37, tzinfo=UTC)
    exc = AlreadyHandled("item_already_handled", by="钱学军", at=at)
    assert (
        str(exc)
        == "this work item was already handled by 钱学军 at 2026-03-02 09:37; nothing was changed"
    )
    assert exc.code == "item_already_handled" and exc.params == {"by": "钱学军", "at": at}
    role = RoleNotAllowed("role_not_allowed", allowed=Either([Term("the host"), Term("a handler")]),
                   role=Term("a co-signer"))  # fmt: skip
    assert str(role) == "only the host or a handler of this step may do this; you are a co-signer"


def test_a_form_names_each_field_and_its_message():
    exc = FormInvalid({"title": FieldError("field_required"),
                       "amount": FieldError("field_below_min", min="1")})  # fmt: skip
    assert str(exc) == "the form is not valid: title: is required; amount: must be at least 1"
    assert exc.errors["title"] == "is required" and exc.errors["title"].code == "field_required"


def test_a_refusal_survives_pickling_with_its_code_and_params():
    exc = AlreadyHandled("step_already_handled", by=Term("the system"),
                         at=datetime(2026, 3, 2, tzinfo=UTC))  # fmt: skip
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is AlreadyHandled and again.code == exc.code and str(again) == str(exc)
    form = pickle.loads(pickle.dumps(FormInvalid({"x": FieldError("field_required")})))
    assert form.errors["x"].code == "field_required"
