"""Enrolling people, their invitations and their cards (workflow/org/people.py, invitations.py,
roster.py): field refusals, scope, the invitation's life, the admin chain after every act."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import setup_engine
from tests.engine.test_concurrency import SafeClock, race
from workflow.audit import verify_all
from workflow.errors import Conflict, Forbidden, FormInvalid, Hidden, NotFound
from workflow.job_queue import JOBS
from workflow.org import invitations, people, roster
from workflow.passwords import verify_password
from workflow.signin import sign_in
from workflow.store.models import AuditEvent, Invitation, RoleMembership, User

BASE = "https://banli.example.com"
NEW = {"name": "陈晓东", "mobile": "138 0013-8000", "unit": "finance", "email": "cxd@Example.COM",
       "post": "会计", "roles": "finance"}  # fmt: skip


def enrol(engine, actor, **changes):
    fields = {**NEW, **changes}
    return people.enrol(engine.db, actor, fields, engine.clock(), base_url=BASE)


def problems(exc: FormInvalid) -> dict[str, str]:
    return {key: problem.code for key, problem in exc.errors.items()}


def chain_ok(engine) -> list:
    with engine.db.read() as s:
        _checked, broken = verify_all(s)
    assert broken == []
    with engine.db.read() as s:
        return list(s.execute(select(AuditEvent.kind, AuditEvent.data)
                              .where(AuditEvent.chain == "admin",
                                     AuditEvent.kind.like("person_%"))
                              .order_by(AuditEvent.seq)))  # fmt: skip


def user(engine, user_id):
    with engine.db.read() as s:
        return s.get(User, user_id)


def test_enrol_writes_an_invited_person_with_roles_event_and_invitation(engine, people):
    done = enrol(engine, people["fenglei"])
    assert done.login == "chenxiaodong" and done.link.startswith(f"{BASE}/invite/")
    row = user(engine, done.user_id)
    assert (row.status, row.mobile, row.email, row.post) == (
        "invited",
        "13800138000",
        "cxd@example.com",
        "会计",
    )
    assert (row.pinyin, row.initials) == ("chenxiaodong", "cxd") and row.created_at is not None
    with engine.db.read() as s:
        roles = s.execute(select(RoleMembership.role).where(RoleMembership.user_id == row.id))
        assert list(roles.scalars()) == ["finance"]
        token = done.link.rsplit("/", 1)[1]
        stored = s.execute(select(Invitation.token_hash, Invitation.expires_at)).all()
        assert [h for h, _ in stored] == [invitations.token_hash(token)]  # the hash, not the token
        assert token not in str(stored)
        jobs = s.execute(select(JOBS.c.key, JOBS.c.payload)).all()
    sent = {p["kind"]: p for k, p in jobs if k.startswith("deliver:invite:")}
    assert set(sent) == {"sms", "email"} and done.link in sent["sms"]["body"]
    assert stored[0][1] - done.expires_at == timedelta(0)
    kinds = [k for k, _ in chain_ok(engine)]
    assert kinds == ["person_enrol"]
    # the second 陈晓东 gets the next login
    again = enrol(engine, people["fenglei"], mobile="13900139000", email="")
    assert again.login == "chenxiaodong2"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": ""}, {"name": "field_required"}),
        ({"name": "张三"}, {"name": "person_name_placeholder"}),
        ({"name": "12345"}, {"name": "person_name_digits"}),
        ({"name": "小王2号"}, {"name": "person_name_chars"}),
        ({"name": "王" * 51}, {"name": "field_too_long"}),
        ({"mobile": "12345"}, {"mobile": "person_mobile_invalid"}),
        ({"mobile": "+86 139-0172-0002"}, {"mobile": "person_mobile_in_use_by"}),
        ({"email": "not-an-address"}, {"email": "person_email_invalid"}),
        ({"unit": "nowhere"}, {"unit": "field_no_unit"}),
        ({"roles": "finance, wizard"}, {"roles": "person_role_unknown"}),
        ({"login": "Bad Login"}, {"login": "person_login_invalid"}),
        ({"login": "wangfang"}, {"login": "person_login_taken"}),
        ({"name": "", "mobile": "", "unit": ""},
         {"name": "field_required", "mobile": "field_required", "unit": "field_required"}),
    ],
)  # fmt: skip
def test_every_bad_field_is_refused_by_its_name_and_nothing_is_written(
    engine, people, changes, expected
):
    with pytest.raises(FormInvalid) as refused:
        enrol(engine, people["fenglei"], **changes)
    assert problems(refused.value) == expected
    with engine.db.read() as s:
        assert s.scalar(select(User.id).where(User.name == "陈晓东")) is None
    assert chain_ok(engine) == []


def test_the_holder_of_a_mobile_is_named_only_to_who_administers_them(engine, people):
    with pytest.raises(FormInvalid) as named:
        enrol(engine, people["fenglei"], mobile="13901720002")
    assert named.value.errors["mobile"].params == {"name": "王芳"}
    with pytest.raises(FormInvalid) as unnamed:  # 王芳 is in 办公室, outside 林晓燕's scope
        enrol(engine, people["linxiaoyan"], mobile="13901720002")
    assert unnamed.value.errors["mobile"].code == "person_mobile_in_use"


def test_scope_a_finance_sub_admin_enrols_only_into_finance(engine, people):
    with pytest.raises(FormInvalid) as refused:
        enrol(engine, people["linxiaoyan"], unit="legal")
    assert refused.value.errors["unit"].code == "person_unit_out_of_scope"
    assert enrol(engine, people["linxiaoyan"]).login == "chenxiaodong"
    with pytest.raises(Forbidden):
        enrol(engine, people["wangfang"])  # no administrator at all


def test_invitation_accept_then_sign_in_and_the_link_is_spent(engine, people):
    done = enrol(engine, people["fenglei"])
    token = done.link.rsplit("/", 1)[1]
    assert invitations.look_up(engine.db, token, engine.clock()).name == "陈晓东"
    with pytest.raises(FormInvalid) as short:
        invitations.accept(engine.db, token, "short", "short", engine.clock())
    assert problems(short.value) == {"password": "invite_password_too_short"}
    with pytest.raises(FormInvalid) as differs:
        invitations.accept(engine.db, token, "a-good-pass", "another-pass", engine.clock())
    assert problems(differs.value) == {"confirm": "invite_password_mismatch"}
    invitations.accept(engine.db, token, "a-good-pass", "a-good-pass", engine.clock())
    row = user(engine, done.user_id)
    assert row.status == "active" and verify_password(row.password_hash, "a-good-pass")
    out = sign_in(engine.db, "chenxiaodong", "a-good-pass", "127.0.0.1", "test", engine.clock())
    assert out.user_id == done.user_id
    with pytest.raises(NotFound) as used:
        invitations.accept(engine.db, token, "other-pass-1", "other-pass-1", engine.clock())
    assert used.value.code == "invitation_invalid"
    assert [k for k, _ in chain_ok(engine)] == ["person_enrol", "person_activate"]


def test_an_expired_a_replaced_and_an_unknown_link_are_refused_alike(engine, people, clock):
    done = enrol(engine, people["fenglei"])
    first = done.link.rsplit("/", 1)[1]
    link, _ = invitations.resend(engine.db, people["fenglei"], done.user_id, engine.clock(),
                                 base_url=BASE)  # fmt: skip
    second = link.rsplit("/", 1)[1]
    for token in (first, "x" * 43, "short"):
        with pytest.raises(NotFound) as refused:
            invitations.look_up(engine.db, token, engine.clock())
        assert refused.value.code == "invitation_invalid"
    assert invitations.look_up(engine.db, second, engine.clock()).user_id == done.user_id
    clock.advance(hours=73)
    with pytest.raises(NotFound):
        invitations.accept(engine.db, second, "a-good-pass", "a-good-pass", engine.clock())
    assert user(engine, done.user_id).status == "invited"
    assert [k for k, _ in chain_ok(engine)] == ["person_enrol", "person_invite"]


def test_resend_refusals(engine, people):
    with pytest.raises(Conflict):  # 王芳 is active
        invitations.resend(engine.db, people["fenglei"], people["wangfang"], engine.clock(),
                           base_url=BASE)  # fmt: skip
    with pytest.raises(Hidden):  # … and outside 林晓燕's scope
        invitations.resend(engine.db, people["linxiaoyan"], people["wangfang"], engine.clock(),
                           base_url=BASE)  # fmt: skip


def test_edit_records_before_and_after_within_scope_only(engine, people):
    changed = people_edit(engine, people["linxiaoyan"], people["mali"], name="马  丽娟",
                          email="mali@hdjs.example.com", post="出纳主管")  # fmt: skip
    assert changed == ["name", "post"]
    row = user(engine, people["mali"])
    assert (row.name, row.pinyin, row.post) == ("马 丽娟", "malijuan", "出纳主管")
    ((kind, data),) = chain_ok(engine)
    assert kind == "person_edit" and data["before"] == {"name": "马丽", "post": "出纳"}
    assert data["after"] == {"name": "马 丽娟", "post": "出纳主管"}
    assert people_edit(engine, people["linxiaoyan"], people["mali"], name="马 丽娟",
                       email="mali@hdjs.example.com", post="出纳主管") == []  # fmt: skip
    with pytest.raises(Hidden):
        people_edit(engine, people["linxiaoyan"], people["wangfang"], name="王芳芳")
    with pytest.raises(FormInvalid) as bad:
        people_edit(engine, people["fenglei"], people["wangfang"], name="", email="x@")
    assert problems(bad.value) == {"name": "field_required", "email": "person_email_invalid"}


def people_edit(engine, actor, user_id, **fields):
    return people.edit_person(engine.db, actor, user_id, fields, engine.clock())


def test_the_list_shows_the_scope_filters_and_pages_by_keyset(engine, people):
    finance = roster.list_people(engine.db, people["linxiaoyan"], limit=100)
    assert {r.unit for r in finance.rows} == {"财务部"} and len(finance.rows) == 4
    everyone = roster.list_people(engine.db, people["fenglei"], limit=100).rows
    assert len(everyone) == 30
    pages, after = [], None
    while True:
        page = roster.list_people(engine.db, people["fenglei"], limit=7, after=after)
        pages.extend(page.rows)
        if page.after is None:
            break
        after = page.after
    assert [r.id for r in pages] == [r.id for r in everyone]
    assert [r.login for r in roster.list_people(engine.db, people["fenglei"], q="wf").rows] == [
        "wangfang"]  # fmt: skip
    assert [r.name for r in roster.list_people(engine.db, people["fenglei"], q="芳").rows] == [
        "王芳"]  # fmt: skip
    enrol(engine, people["fenglei"])
    invited = roster.list_people(engine.db, people["fenglei"], status="invited").rows
    assert [r.name for r in invited] == ["陈晓东"]
    with engine.db.read() as s:
        legal = s.scalar(select(User.unit_id).where(User.login == "yangfan"))
    with pytest.raises(Forbidden):
        roster.list_people(engine.db, people["linxiaoyan"], unit_id=legal)
    card = roster.person_card(engine.db, people["fenglei"], invited[0].id)
    assert card.roles == [("finance", "财务部")] and card.invitation.used_at is None
    with pytest.raises(Hidden):
        roster.person_card(engine.db, people["linxiaoyan"], people["wangfang"])
    units = roster.units_in_scope(engine.db, people["linxiaoyan"])
    assert [(u.code, u.depth) for u in units] == [("finance", 0)]
    assert "clerk" in roster.roles_offered(engine.db)


@pytest.fixture(params=["db", "pg_db"], ids=["sqlite", "postgres"])
def both(request):
    """The SQLite file database and the PostgreSQL one (skipped unless configured)."""
    return request.getfixturevalue(request.param)


def test_two_enrolments_of_one_mobile_at_once_one_wins(both):
    """On SQLite the write lock serialises them; on PostgreSQL both may pass the check and the
    unique index stops the second, which then gets the same field message."""
    pg_db = both
    engine, who = setup_engine(pg_db, SafeClock())
    calls = [lambda n=n: people.enrol(pg_db, who["fenglei"], {**NEW, "name": n}, engine.clock(),
                                      base_url=BASE) for n in ("陈晓东", "陈晓西")]  # fmt: skip
    results = race(*calls)
    won = [r for r in results if isinstance(r, people.Enrolled)]
    lost = [r for r in results if isinstance(r, FormInvalid)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].errors["mobile"].code == "person_mobile_in_use_by"
    assert lost[0].errors["mobile"].params["name"] == won[0].name
    with pg_db.read() as s:
        _checked, broken = verify_all(s)
        assert broken == [] and s.scalar(select(User.id).where(User.mobile == "13800138000"))


@pytest.mark.postgres
def test_enrol_accept_and_edit_on_postgres(pg_db):
    engine, who = setup_engine(pg_db, SafeClock())
    done = people.enrol(pg_db, who["fenglei"], NEW, engine.clock(), base_url=BASE)
    token = done.link.rsplit("/", 1)[1]
    invitations.accept(pg_db, token, "a-good-pass", "a-good-pass", engine.clock())
    people.edit_person(pg_db, who["fenglei"], done.user_id, {"name": "陈晓冬"}, engine.clock())
    assert user(engine, done.user_id).status == "active"
    assert [k for k, _ in chain_ok(engine)] == ["person_enrol", "person_activate", "person_edit"]


@pytest.mark.postgres
def test_one_link_sent_twice_at_once_activates_once(pg_db):
    engine, who = setup_engine(pg_db, SafeClock())
    done = people.enrol(pg_db, who["fenglei"], NEW, engine.clock(), base_url=BASE)
    token = done.link.rsplit("/", 1)[1]
    results = race(*[lambda p=p: invitations.accept(pg_db, token, p, p, engine.clock())
                     for p in ("first-pass-1", "second-pass-2")])  # fmt: skip
    assert sorted(type(r).__name__ for r in results) == ["Invited", "NotFound"], results
    won = "first-pass-1" if isinstance(results[0], invitations.Invited) else "second-pass-2"
    assert verify_password(user(engine, done.user_id).password_hash, won)
    assert [k for k, _ in chain_ok(engine)] == ["person_enrol", "person_activate"]
