"""Starting a flow: form validation, starters, the first forward."""

from __future__ import annotations

import pytest

from workflow.errors import Forbidden, FormInvalid

CONTRACT = {
    "title": "办公楼空调采购合同",
    "counterparty": "上海申能机电有限公司",
    "amount": "680000",
    "contract_type": "purchase",
    "summary": "采购空调 40 台",
}


def test_start_forwards_to_the_initiators_unit_head(engine, people, item_of):
    out = engine.start(people["huangyong"], "contract_review", CONTRACT)
    assert out.state == "dept_review"
    rows = engine.inbox(people["qianxuejun"])
    assert [(r.title, r.step_name, r.role) for r in rows] == [
        ("办公楼空调采购合同", "部门负责人审核", "host")
    ]
    assert rows[0].confirmed_at is None and rows[0].delivered_at is not None


def test_form_errors_name_every_bad_field(engine, people):
    with pytest.raises(FormInvalid) as err:
        engine.start(
            people["huangyong"],
            "contract_review",
            {**CONTRACT, "amount": "12.345", "contract_type": "lease", "title": ""},
        )
    assert err.value.errors == {
        "title": "is required",
        "amount": "must be an amount with at most two decimals, not '12.345'",
        "contract_type": "must be one of purchase, sales, service, construction, other, not 'lease'",
    }
    assert engine.started(people["huangyong"]) == []


@pytest.mark.parametrize(("amount", "stored"), [("-0", "0.00"), ("-0.00", "0.00"), ("1,234.5", "1234.50"),
                                               (" 680000 ", "680000.00"), ("999999999999.99", "999999999999.99")])  # fmt: skip
def test_an_amount_is_stored_as_people_mean_it(engine, people, amount, stored):
    out = engine.start(people["huangyong"], "contract_review", {**CONTRACT, "amount": amount})
    assert engine.history(out.flow_id).form["amount"] == stored


@pytest.mark.parametrize("amount", ["1e999999", "NaN", "sNaN", "Infinity", "1e3", "9" * 5000])
def test_an_amount_decimal_reads_but_no_clerk_writes_is_refused(engine, people, amount):
    with pytest.raises(FormInvalid) as err:
        engine.start(people["huangyong"], "contract_review", {**CONTRACT, "amount": amount})
    assert err.value.errors["amount"].startswith("must be an amount such as 1234.50, not ")
    assert len(err.value.errors["amount"]) < 100  # never a page of digits


def test_only_clerks_start_incoming_documents(engine, people):
    with pytest.raises(Forbidden):
        engine.start(people["huangyong"], "incoming_document", {})


def test_start_on_postgres(pg_db):
    from tests.conftest import setup_engine

    engine, people = setup_engine(pg_db)
    out = engine.start(people["huangyong"], "contract_review", CONTRACT)
    assert out.state == "dept_review"
