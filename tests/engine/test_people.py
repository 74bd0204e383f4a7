"""Candidate rules resolved against the demo organisation."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter
from sqlalchemy import select, update

from workflow.engine.people import resolve
from workflow.spec.model import Who
from workflow.store.models import User

WHO = TypeAdapter(Who)


def names(engine, rule, initiator):
    with engine.db.read() as s:
        cands = resolve(s, WHO.validate_python(rule), initiator)
        by_id = dict(s.execute(select(User.id, User.name).where(User.id.in_(cands.ids))).all())
    return sorted(by_id[i] for i in cands.ids), cands.choose


@pytest.mark.parametrize(
    ("rule", "initiator", "expected", "choose"),
    [
        ("initiator", "huangyong", ["黄勇"], False),
        ({"user": "liming"}, "huangyong", ["李明"], False),
        ({"role": "legal"}, "huangyong", ["杨帆"], False),
        ({"role": "unit_head", "of": "initiator"}, "huangyong", ["钱学军"], False),
        ({"role": "unit_head", "unit": "legal"}, "huangyong", ["杨帆"], False),
        ({"role": "legal", "unit": "no_such_unit"}, "huangyong", [], False),
        ({"unit": "legal"}, "huangyong", ["何婷", "杨帆"], False),
        ([{"role": "legal"}, {"role": "finance"}], "huangyong", ["林晓燕", "杨帆"], False),
        ({"choose_from": [{"role": "deputy_director"}]}, "huangyong", ["刘海涛", "陈志强"], True),
    ],
)
def test_rules(engine, people, rule, initiator, expected, choose):
    assert names(engine, rule, people[initiator]) == (sorted(expected), choose)


def test_a_removed_account_is_never_a_candidate(engine, people):
    with engine.db.write() as s:
        s.execute(update(User).where(User.login == "heting").values(status="removed"))
    assert names(engine, {"unit": "legal"}, people["huangyong"]) == (["杨帆"], False)
