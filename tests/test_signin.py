"""Sign-in throttling in the engine: delays grow, the lock lifts at the stated time, a success
resets the account, the address has higher thresholds, and the password hasher always runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

import workflow.passwords as passwords
from tests.conftest import ROOT, Clock, setup_engine
from workflow.audit import EVENTS, verify_all
from workflow.errors import Forbidden, NotFound
from workflow.signin import (
    ACCOUNT_RULE,
    ADDRESS_RULE,
    account_key,
    address_key,
    current_waits,
    lift,
    recent_attempts,
    sign_in,
)
from workflow.store.models import SignInAttempt, SignInThrottle, User

PASSWORD = "correct horse"
T0 = datetime(2026, 3, 2, 1, 0, 3, tzinfo=UTC)  # 09:00:03 in Shanghai
HOME = "203.0.113.7"
UA = "Mozilla/5.0 (test)"


@pytest.fixture(scope="module")
def password_hash() -> str:
    # A cheap argon2id hash: verifying costs what the stored hash says, and these tests verify
    # hundreds of times. (Unknown logins still pay the full dummy hash.)
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


@pytest.fixture(params=["db", "pg_db"], ids=["sqlite", "postgres"])
def setup(request, password_hash):
    """(engine, people) on SQLite and on PostgreSQL, everyone's password PASSWORD."""
    database = request.getfixturevalue(request.param)
    engine, people = setup_engine(database, Clock())
    with database.write() as s:
        s.execute(update(User).values(password_hash=password_hash))
    return engine, people


def attempt(engine, login, password="wrong", at=T0, address=HOME):
    return sign_in(engine.db, login, password, address, UA, at)


def test_typos_are_free_then_the_delay_doubles_then_the_account_locks(setup):
    engine, people = setup
    at = T0
    for _ in range(4):  # four typos: no wait
        out = attempt(engine, "wangfang", at=at)
        assert out.refused == "wrong" and out.wait is None
        at += timedelta(seconds=1)
    waits = []
    for _ in range(5):  # failures 5..9: the next try waits 5, 10, 20, 40, 80 seconds
        out = attempt(engine, "wangfang", at=at)
        assert out.refused == "wrong" and not out.wait.locked and out.wait.scope == "account"
        waits.append(out.wait.until - at)
        # too soon: refused without looking at the password, even the right one
        early = attempt(engine, "wangfang", PASSWORD, at=out.wait.until - timedelta(seconds=1))
        assert early.refused == "blocked" and early.user_id is None and early.wait == out.wait
        at = out.wait.until
    assert waits == [timedelta(seconds=s) for s in (5, 10, 20, 40, 80)]

    tenth = attempt(engine, "wangfang", at=at)
    assert tenth.wait.locked and tenth.wait.scope == "account"
    # 15 minutes, rounded up to the whole minute the page shows
    assert tenth.wait.until == datetime(2026, 3, 2, 1, 18, tzinfo=UTC)
    assert timedelta(minutes=15) <= tenth.wait.until - at < timedelta(minutes=16)
    refused = attempt(engine, "wangfang", PASSWORD, at=tenth.wait.until - timedelta(seconds=1))
    assert refused.refused == "blocked" and refused.wait.locked
    assert engine.local(refused.wait.until) == "2026-03-02 09:18"

    # the lock lifts at the stated time: the right password gets in, and the count starts again
    ok = attempt(engine, "wangfang", PASSWORD, at=tenth.wait.until)
    assert ok.user_id == people["wangfang"] and ok.refused is None
    again = attempt(engine, "wangfang", at=tenth.wait.until + timedelta(seconds=1))
    assert again.refused == "wrong" and again.wait is None


def test_a_failure_after_the_lock_locks_again(setup):
    engine, _people = setup
    at = T0
    for _ in range(ACCOUNT_RULE.lock_at):
        out = attempt(engine, "wangfang", at=at)
        at = out.wait.until if out.wait else at + timedelta(seconds=1)
    assert out.wait.locked
    relock = attempt(engine, "wangfang", at=out.wait.until)
    assert relock.refused == "wrong" and relock.wait.locked
    assert relock.wait.until >= out.wait.until + ACCOUNT_RULE.lock_for


def test_a_success_resets_the_account_count(setup):
    engine, people = setup
    for i in range(4):
        attempt(engine, "wangfang", at=T0 + timedelta(seconds=i))
    assert (
        attempt(engine, "wangfang", PASSWORD, at=T0 + timedelta(seconds=5)).user_id
        == people["wangfang"]
    )
    for i in range(4):  # four more typos are free again
        out = attempt(engine, "wangfang", at=T0 + timedelta(seconds=10 + i))
        assert out.wait is None
    with engine.db.read() as s:
        row = s.execute(
            select(SignInThrottle).where(SignInThrottle.scope == "account")
        ).scalar_one()
    assert row.key == "wangfang" and row.failures == 4


def test_unknown_and_known_logins_are_throttled_alike(setup):
    engine, _people = setup
    at = T0
    for login in ("wangfang", "nobody-here"):
        for i in range(ACCOUNT_RULE.lock_at):
            out = attempt(engine, login, at=at, address=f"198.51.100.{i}")
            at = out.wait.until if out.wait else at + timedelta(seconds=1)
        assert out.refused == "wrong" and out.wait.locked and out.wait.scope == "account"
        # variants of a login count together (the lookup is exact, the count is not)
        variant = attempt(engine, f" {login.upper()} ", at=at - timedelta(minutes=1))
        assert variant.refused == "blocked" and variant.wait == out.wait


def test_the_address_has_higher_thresholds_than_an_account(setup):
    """Fifty typos from the people behind one NAT address in an hour: nobody waits. Failures spread
    over many accounts from one address (password spraying) meet the address's delay, then lock."""
    engine, people = setup
    logins = sorted(people)
    at = T0
    for i in range(ADDRESS_RULE.delay_from - 1):
        out = attempt(engine, logins[i % len(logins)], at=at)
        assert out.wait is None, f"failure {i + 1} from the office already waits"
        at += timedelta(seconds=1)
    # a colleague signs in fine: a success gives back only its own charge
    assert attempt(engine, "sunli", PASSWORD, at=at).user_id == people["sunli"]
    out = attempt(engine, "liming", at=at)  # the 50th failure from this address
    assert out.wait.scope == "address" and not out.wait.locked
    assert out.wait.until - at == ADDRESS_RULE.delay
    # everyone behind the address waits those seconds; another address does not
    assert attempt(engine, "sunli", PASSWORD, at=at + timedelta(seconds=1)).refused == "blocked"
    elsewhere = attempt(
        engine, "sunli", PASSWORD, at=at + timedelta(seconds=1), address="192.0.2.1"
    )
    assert elsewhere.user_id == people["sunli"]

    failures = ADDRESS_RULE.delay_from
    while failures < ADDRESS_RULE.lock_at:
        at = out.wait.until
        out = attempt(engine, f"guess{failures}", at=at)
        failures += 1
    assert out.wait.scope == "address" and out.wait.locked
    assert out.wait.until - at >= ADDRESS_RULE.lock_for
    # a correct password from the locked address is not even checked
    assert attempt(engine, "sunli", PASSWORD, at=at + timedelta(minutes=5)).refused == "blocked"
    assert attempt(engine, "sunli", PASSWORD, at=out.wait.until).user_id == people["sunli"]


def test_failures_are_recorded_with_who_where_and_why(setup):
    engine, people = setup
    with engine.db.write() as s:
        s.execute(update(User).where(User.login == "liming").values(status="removed"))
    attempt(engine, "zhaomin", at=T0 - timedelta(days=184))  # older than six months: pruned
    attempt(engine, "wangfang", at=T0)
    attempt(engine, "no\x00body", at=T0 + timedelta(seconds=1), address="2001:db8::1")
    attempt(engine, "liming", PASSWORD, at=T0 + timedelta(seconds=2))
    attempt(engine, "sunli", PASSWORD, at=T0 + timedelta(seconds=3))  # a success: not recorded
    found = recent_attempts(engine.db)
    assert [(a.login, a.user_name, a.reason) for a in found] == [
        ("liming", "李明", "inactive"),
        ("no\ufffdbody", None, "unknown_login"),
        ("wangfang", "王芳", "wrong_password"),
    ]
    assert found[2].user_id == people["wangfang"] and found[2].address == HOME
    assert found[2].user_agent == UA and found[2].at == T0
    assert found[1].address == "2001:db8::1"


def test_the_password_hasher_runs_for_every_refusal(setup, monkeypatch):
    """Timing parity without a stopwatch: argon2 verifies once for a known login with a wrong
    password, an unknown login, a removed account and an account without a password."""
    engine, _people = setup
    with engine.db.write() as s:
        s.execute(update(User).where(User.login == "liming").values(status="removed"))
        s.execute(update(User).where(User.login == "sunli").values(password_hash=None))
        s.execute(update(User).where(User.login == "zhouwei").values(password_hash="garbage"))
    calls = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash, password):
            calls.append(hash)
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher())
    messages = set()
    for i, login in enumerate(["wangfang", "nobody", "liming", "sunli", "zhouwei"]):
        calls.clear()
        out = attempt(engine, login, at=T0 + timedelta(seconds=i), address=f"192.0.2.{i}")
        hashed = [c for c in calls if c.startswith("$argon2id$")]
        assert len(hashed) == 1, f"{login}: argon2 hashed {len(hashed)} times"
        messages.add((out.refused, out.wait))
    assert messages == {("wrong", None)}


def test_keys():
    assert account_key("  WangFang ") == "wangfang"
    assert address_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key(None) == "unknown"


def test_an_administrator_sees_and_lifts_a_lock_audited(setup):
    engine, people = setup
    at = T0
    for _ in range(ACCOUNT_RULE.lock_at):
        out = attempt(engine, "wangfang", at=at)
        at = out.wait.until if out.wait else at + timedelta(seconds=1)
    at = out.wait.until - timedelta(minutes=10)  # locked for ten more minutes
    (lock,) = current_waits(engine.db, at)
    assert (lock.scope, lock.key, lock.failures, lock.locked) == ("account", "wangfang", 10, True)
    assert lock.until == out.wait.until

    with pytest.raises(Forbidden):
        lift(engine.db, "account", "wangfang", people["wangfang"], at)
    lifted = lift(engine.db, "account", "wangfang", people["zhouwei"], at)
    assert lifted.failures == 10 and lifted.locked
    assert current_waits(engine.db, at) == []
    assert attempt(engine, "wangfang", PASSWORD, at=at).user_id == people["wangfang"]
    with pytest.raises(NotFound):
        lift(engine.db, "account", "wangfang", people["zhouwei"], at)
    with engine.db.read() as s:
        event = s.execute(select(EVENTS).where(EVENTS.c.kind == "sign_in_unlock")).one()
        assert event.chain == "admin" and event.actor_name == "周伟"
        assert event.data["key"] == "wangfang" and event.data["failures"] == 10
        assert verify_all(s)[1] == []


def test_parallel_guesses_see_each_other(setup):
    """Twenty guesses at once for one account: the count is charged before argon2 runs, so no
    more than the lock threshold are ever checked, whichever worker takes them."""
    engine, _people = setup
    results = []
    barrier = threading.Barrier(20)

    def guess(i: int) -> None:
        barrier.wait()
        results.append(attempt(engine, "wangfang", at=T0, address=f"192.0.2.{i}"))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checked = [r for r in results if r.refused == "wrong"]
    # all at the same instant: the first five are free, the fifth imposes a delay on the rest
    assert len(checked) == ACCOUNT_RULE.delay_from
    with engine.db.read() as s:
        recorded = s.scalars(select(SignInAttempt.reason)).all()
        failures = s.scalar(
            select(SignInThrottle.failures).where(SignInThrottle.scope == "account")
        )
    assert sorted(recorded).count("wrong_password") == ACCOUNT_RULE.delay_from
    assert len(recorded) == 20 and failures == ACCOUNT_RULE.delay_from


def test_the_banli_signins_commands(tmp_path, monkeypatch):
    """``banli signins list`` shows the lock and the refused attempts; ``unlock`` lifts it."""
    from click.testing import CliRunner

    from workflow.cli import main
    from workflow.store.db import Database

    monkeypatch.chdir(ROOT)
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args: str):
        return CliRunner().invoke(main, ["--db", url, *args], catch_exceptions=False)

    assert run("demo").exit_code == 0
    assert "nobody is waiting or locked" in run("signins", "list").output
    db = Database(url)
    at = datetime.now(UTC) - timedelta(minutes=20)  # the last failure 5 minutes ago
    for i in range(ACCOUNT_RULE.lock_at):
        sign_in(db, "wangfang", "guess", "203.0.113.9", "curl/8", at + timedelta(seconds=i * 100))
    db.dispose()

    listed = run("signins", "list").output.splitlines()
    assert listed[0].split() == ["SCOPE", "KEY", "FAILURES", "STATE", "UNTIL", "(local)"]
    assert listed[1].split()[:4] == ["account", "wangfang", "10", "locked"]
    assert listed[3].split()[:2] == ["AT", "(local)"]
    assert len(listed) == 4 + ACCOUNT_RULE.lock_at
    assert listed[4].split()[2:] == ["wangfang", "王芳", "203.0.113.9", "wrong_password", "curl/8"]

    refused = run("signins", "unlock", "account", "wangfang", "--as", "wangfang")
    assert refused.exit_code == 1 and "王芳 is not one" in refused.output
    done = run("signins", "unlock", "account", "wangfang", "--as", "zhouwei")
    assert done.exit_code == 0, done.output
    assert "account wangfang may sign in again now (10 failures forgotten)" in done.output
    assert "nobody is waiting or locked" in run("signins", "list").output
    again = run("signins", "unlock", "account", "wangfang", "--as", "zhouwei")
    assert again.exit_code == 1 and "no failed sign-ins are counted" in again.output
    assert "audit trail intact" in run("audit", "verify").output
