"""Size limits on what people write: the longest allowed is kept whole, one more is a field error."""

from __future__ import annotations

import pytest

from tests.engine.test_refusals import CONTRACT, contract, refused
from workflow import messages
from workflow.engine.registry import store_definition
from workflow.errors import FormInvalid
from workflow.limits import OPINION_MAX, TEXT_MAX, TEXTAREA_MAX, TITLE_MAX

LONG = "审" * OPINION_MAX
TOO_LONG = LONG + "核"
SAID = f"is {OPINION_MAX + 1} characters long; at most {OPINION_MAX} are allowed"
NOTES = """\
id: notes
name: {zh: 备忘, en: Notes}
title: "{line} / {line} / {line}"
form:
  - {key: line, type: text, required: true, label: {zh: 一行, en: Line}}
  - {key: long, type: textarea, label: {zh: 长文, en: Long text}}
  - {key: short, type: textarea, max_length: 10, label: {zh: 短文, en: Short text}}
steps:
  draft: {name: {zh: 起草, en: Draft}, host: initiator, next: [review]}
  review: {name: {zh: 审核, en: Review}, host: {role: unit_head, of: initiator}, can_end: true}
"""


@pytest.fixture
def notes(engine, tmp_path):
    """A definition whose text fields set no max_length: the engine's defaults apply."""
    path = tmp_path / "notes.yaml"
    path.write_text(NOTES, encoding="utf-8")
    with engine.db.write() as s:
        store_definition(s, path, engine.clock())
    return "notes"


def opinions_of(engine, fid):
    return [p.opinion for v in engine.history(fid).visits for p in v.people if p.opinion]


def test_the_longest_opinion_is_kept_whole_one_more_is_refused_on_start(engine, people):
    fid = contract(engine, people, opinion=LONG)
    assert opinions_of(engine, fid) == [LONG]
    err = refused(engine, people, None, FormInvalid, SAID,
                  lambda: contract(engine, people, opinion=TOO_LONG))  # fmt: skip
    assert err.errors == {"opinion": SAID}


def test_start_names_the_opinion_with_the_other_bad_fields(engine, people):
    with pytest.raises(FormInvalid) as caught:
        engine.start(people["huangyong"], "contract_review", {**CONTRACT, "amount": "-5"},
                     opinion=TOO_LONG)  # fmt: skip
    assert caught.value.errors == {"amount": "must not be negative", "opinion": SAID}


@pytest.mark.parametrize("action", ["forward", "end", "return_"])
def test_a_hosts_opinion(engine, people, item_of, action):
    fid = contract(engine, people)
    item = item_of("qianxuejun", fid)
    act = getattr(engine, action)
    err = refused(engine, people, fid, FormInvalid, SAID,
                  lambda: act(people["qianxuejun"], item, opinion=TOO_LONG))  # fmt: skip
    assert err.errors == {"opinion": SAID}
    act(people["qianxuejun"], item, opinion=LONG)
    assert opinions_of(engine, fid)[-1] == LONG


def test_a_co_signers_opinion(engine, people, item_of):
    fid = contract(engine, people)
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    item = item_of("yangfan", fid)
    refused(engine, people, fid, FormInvalid, SAID,
            lambda: engine.sign(people["yangfan"], item, opinion=TOO_LONG))  # fmt: skip
    engine.sign(people["yangfan"], item, opinion=LONG)
    assert opinions_of(engine, fid)[-1] == LONG


def test_a_withdraw_reason(engine, people):
    fid = contract(engine, people)
    refused(engine, people, fid, FormInvalid, SAID,
            lambda: engine.withdraw(people["huangyong"], fid, reason=TOO_LONG))  # fmt: skip
    engine.withdraw(people["huangyong"], fid, reason=LONG)
    assert engine.history(fid).state == "withdrawn"


def test_text_fields_default_limits_and_a_definitions_lower_one(engine, people, notes):
    start = lambda **form: engine.start(people["huangyong"], notes, form)  # noqa: E731
    with pytest.raises(FormInvalid) as caught:
        start(line="行" * (TEXT_MAX + 1), long="长" * (TEXTAREA_MAX + 1), short="短" * 11)
    assert caught.value.errors == {
        "line": f"is {TEXT_MAX + 1} characters long; at most {TEXT_MAX} are allowed",
        "long": f"is {TEXTAREA_MAX + 1} characters long; at most {TEXTAREA_MAX} are allowed",
        "short": "is 11 characters long; at most 10 are allowed",
    }
    fid = start(line="行" * TEXT_MAX, long="长" * TEXTAREA_MAX, short="短" * 10).flow_id
    record = engine.history(fid)
    assert record.form["long"] == "长" * TEXTAREA_MAX
    assert (
        record.title == ("行" * TEXT_MAX + " / ")[:TITLE_MAX]
    )  # three lines made too long a title


def test_a_message_body_and_subject(engine, people):
    send = lambda **kw: messages.send(engine, people["liming"], to_users=[people["wangfang"]], **kw)  # noqa: E731
    with pytest.raises(FormInvalid) as caught:
        send(subject="题" * 201, body="文" * 10_001)
    assert caught.value.errors == {
        "subject": "is 201 characters long; at most 200 are allowed",
        "body": "is 10001 characters long; at most 10000 are allowed",
    }
    fid = send(subject="题" * 200, body="文" * 10_000).flow_id
    assert messages.view(engine, people["liming"], fid).body == "文" * 10_000


def test_the_longest_values_round_trip_on_postgresql(pg_db):
    from tests.conftest import Clock, setup_engine

    engine, people = setup_engine(pg_db, Clock())
    fid = contract(engine, people, opinion=LONG)
    with pytest.raises(FormInvalid):
        contract(engine, people, opinion=TOO_LONG)
    sent = messages.send(engine, people["liming"], to_users=[people["wangfang"]],
                         subject="\u202e题" * 100, body="文" * 10_000).flow_id  # fmt: skip
    assert opinions_of(engine, fid) == [LONG]
    view = messages.view(engine, people["wangfang"], sent)
    assert view.subject == "题" * 100 and view.body == "文" * 10_000
