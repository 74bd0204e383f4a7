"""A deadlock or serialization failure: the action is tried again, a bounded number of times."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from workflow import busy
from workflow.busy import asks_retry, busy_reason, retried
from workflow.errors import Busy


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _db_error(sqlstate: str) -> OperationalError:
    return OperationalError("UPDATE flows …", {}, _DriverError(sqlstate))


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
def test_the_database_asking_for_a_retry_is_recognised(sqlstate):
    exc = _db_error(sqlstate)
    assert asks_retry(exc)
    wrapped = Busy("database_locked")
    wrapped.__cause__ = exc  # as ``as_busy`` raises it
    assert asks_retry(wrapped)
    assert busy_reason(exc) == "locked"  # after the last try: "busy, try again"


def test_other_errors_are_not_retried():
    assert not asks_retry(_db_error("55P03"))  # lock_timeout: the person is told at once
    assert not asks_retry(ValueError("x"))
    calls = []

    @retried
    def fails() -> None:
        calls.append(1)
        raise _db_error("23505")

    with pytest.raises(OperationalError):
        fails()
    assert len(calls) == 1


def test_a_retried_function_runs_again_and_at_most_attempts_times(monkeypatch):
    monkeypatch.setattr(busy.time, "sleep", lambda s: None)
    calls = []

    @retried
    def twice_then_fine() -> str:
        calls.append(1)
        if len(calls) < busy.ATTEMPTS:
            raise _db_error("40P01")
        return "done"

    assert twice_then_fine() == "done" and len(calls) == busy.ATTEMPTS
    calls.clear()

    @retried
    def always() -> None:
        calls.append(1)
        raise _db_error("40001")

    with pytest.raises(OperationalError):
        always()
    assert len(calls) == busy.ATTEMPTS


CONTRACT = {"title": "办公楼空调采购合同", "counterparty": "上海申能机电有限公司",
            "amount": "120000", "contract_type": "purchase", "summary": "采购空调 4 台"}  # fmt: skip


def test_an_action_hit_by_a_deadlock_is_done_once(engine, people, monkeypatch):
    """The first try fails inside the action's transaction (rolled back); the second lands:
    one confirmation, one audit event."""
    from workflow.engine.context import Action

    monkeypatch.setattr(busy.time, "sleep", lambda s: None)
    out = engine.start(people["huangyong"], "contract_review", CONTRACT)
    fid, item = out.flow_id, out.delivered[0]
    seq = engine.history(fid).audit_seq
    real, tries = Action.event, []

    def flaky(self, kind, **data):
        real(self, kind, **data)
        tries.append(kind)
        if len(tries) == 1:
            raise _db_error("40P01")

    monkeypatch.setattr(Action, "event", flaky)
    engine.open(people["qianxuejun"], item)
    assert tries == ["confirm", "confirm"]
    assert engine.history(fid).audit_seq == seq + 1  # the first try left nothing behind
