"""Sign-in sessions (workflow/sessions.py): open, look up and touch, idle out, end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from workflow import sessions
from workflow.store.models import SignInSession, User

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
IDLE = timedelta(minutes=120)


def _row(db, sid: str):
    with db.read() as s:
        return s.execute(
            select(
                SignInSession.last_seen_at, SignInSession.ended_at, SignInSession.user_agent
            ).where(SignInSession.id == sid)
        ).one()


def test_a_session_names_its_person_with_roles_and_administrator(engine, people):
    db = engine.db
    sid = sessions.open_session(db, people["zhouwei"], T0, "x" * 400, "192.0.2.1")
    found = sessions.look_up(db, sid, people["zhouwei"], T0 + timedelta(seconds=5), IDLE)
    assert (found.login, found.name, found.unit, found.admin) == ("zhouwei", "周伟", "办公室", True)
    assert found.capabilities == {"people", "types", "messages", "stats", "jobs"}
    hr = sessions.open_session(db, people["fenglei"], T0, None, None)
    found = sessions.look_up(db, hr, people["fenglei"], T0, IDLE)
    assert (found.admin, found.capabilities, found.roles) == (False, {"people", "stats"}, {"hr"})
    assert len(_row(db, sid).user_agent) == sessions.AGENT_MAX
    clerk = sessions.open_session(db, people["wangfang"], T0, None, None)
    assert sessions.look_up(db, clerk, people["wangfang"], T0, IDLE).admin is False


def test_another_persons_id_or_an_ended_session_signs_nobody_in(engine, people):
    db = engine.db
    sid = sessions.open_session(db, people["liming"], T0, "agent", None)
    assert sessions.look_up(db, sid, people["wangfang"], T0, IDLE) is None
    sessions.end_session(db, sid, T0 + timedelta(minutes=1))
    assert sessions.look_up(db, sid, people["liming"], T0 + timedelta(minutes=2), IDLE) is None
    assert _row(db, sid).ended_at == T0 + timedelta(minutes=1)


def test_last_seen_is_written_at_most_once_a_minute_and_idle_sessions_end(engine, people):
    db = engine.db
    sid = sessions.open_session(db, people["liming"], T0, "agent", None)
    sessions.look_up(db, sid, people["liming"], T0 + timedelta(seconds=30), IDLE)
    assert _row(db, sid).last_seen_at == T0  # within SEEN_EVERY: no write
    later = T0 + timedelta(minutes=5)
    sessions.look_up(db, sid, people["liming"], later, IDLE)
    assert _row(db, sid).last_seen_at == later
    gone = later + IDLE + timedelta(seconds=1)
    assert sessions.look_up(db, sid, people["liming"], gone, IDLE) is None
    assert _row(db, sid).ended_at == gone


def test_an_inactive_person_is_signed_in_no_more(engine, people):
    db = engine.db
    sid = sessions.open_session(db, people["liming"], T0, "agent", None)
    with db.write() as s:
        s.execute(update(User).where(User.id == people["liming"]).values(status="inactive"))
    assert sessions.look_up(db, sid, people["liming"], T0, IDLE) is None


def test_a_request_looks_its_session_up_in_one_statement(engine, people):
    """The look-up each request makes reads session, person, unit, roles and the administrator
    flags in one statement (a sub-administrator's unit subtrees are read besides), and finds the
    same as the full access.admin_scope."""
    from sqlalchemy import event

    from workflow import access

    db = engine.db
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    for login in ("liming", "wangfang", "zhouwei", "fenglei"):
        sid = sessions.open_session(db, people[login], T0, None, None)
        seen.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            found = sessions.look_up(db, sid, people[login], T0 + timedelta(seconds=5), IDLE)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        with db.read() as s:
            scope = access.admin_scope(s.connection(), people[login])
            from workflow.store.models import RoleMembership

            roles = set(
                s.scalars(
                    select(RoleMembership.role).where(RoleMembership.user_id == people[login])
                )
            )
        assert found.roles == roles
        assert (found.admin, found.capabilities) == (scope.main, scope.capabilities)
        assert found.company == frozenset(c for c in scope.capabilities if scope.company_wide(c))
        if not scope.roots:
            assert len(seen) == 1, (login, seen)
