"""The directory's engine (Art. 5, 21): search through the name keys, paging by keyset, who is
listed, and the per-person rate limit (its window, and its count under two threads at once on
SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from tests.conftest import setup_engine
from workflow.errors import NotFound, RateLimited
from workflow.org import directory, ratelimit
from workflow.org.names import name_keys
from workflow.store.models import RateCount, Unit, User

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
FREE = ratelimit.Rate(0)  # no limit: these tests are about what is found


def names(results: directory.Results) -> list[str]:
    return [c.name for c in results.cards]


def find(engine, people, query, who="liming", after=None):
    return directory.search(engine.db, people[who], query, NOW, FREE, after=after)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("王芳", ["王芳"]),
        ("王", ["王芳"]),
        ("wangfang", ["王芳"]),
        ("wangf", ["王芳"]),
        ("WangF", ["王芳"]),
        ("wang fang", ["王芳"]),
        ("wf", ["王芳"]),
        ("zw", ["周伟"]),
        ("zhou", ["周伟"]),
        ("zhangj", ["张建国"]),
        ("zhangjianguo", ["张建国"]),  # a login (and the pinyin) in full
        ("1390172000", ["李明", "孙丽", "王芳", "吴静", "赵敏", "周伟"]),  # pinyin order
        ("139 0172 0002", ["王芳"]),
        ("+8613901720002", ["王芳"]),
        ("lin", ["林晓燕"]),
        ("l", ["梁雪", "李明", "林晓燕", "刘海涛", "罗斌"]),
        ("王f", ["王芳"]),
        ("汪芳", []),  # a homophone is not the name
        ("13", []),  # two digits look at no number
        ("%", []),
        ("_", []),
        ("", []),
        ("   ", []),
        ("x" * 500, []),
    ],
)
def test_search(engine, people, query, found):
    assert names(find(engine, people, query)) == found


def test_a_card_carries_what_the_directory_shows(engine, people):
    card = directory.person(engine.db, people["liming"], people["wangfang"], NOW, FREE)
    assert card.name == "王芳"
    assert card.unit_path == ("华东建设集团有限公司", "办公室")
    assert card.post == "收文员"
    assert card.email == "wangfang@hdjs.example.com"
    assert card.mobile == "13901720002" and card.mobile_hidden is False
    assert card.online is False


def test_online_is_seen_within_the_last_minutes(engine, people):
    with engine.db.write() as s:
        s.execute(update(User).where(User.id == people["wangfang"])
                  .values(last_seen_at=NOW - timedelta(minutes=2)))  # fmt: skip
    card = directory.person(engine.db, people["liming"], people["wangfang"], NOW, FREE)
    assert card.online is True
    assert find(engine, people, "wf").cards[0].online is True


def test_invited_and_removed_people_are_not_listed(engine, people):
    with engine.db.write() as s:
        s.execute(update(User).where(User.id == people["wangfang"]).values(status="invited"))
        s.execute(update(User).where(User.id == people["zhouwei"]).values(status="removed"))
    assert names(find(engine, people, "wf")) == []
    assert names(find(engine, people, "zw")) == []
    with pytest.raises(NotFound):
        directory.person(engine.db, people["liming"], people["wangfang"], NOW, FREE)
    page = directory.page(engine.db, people["liming"], NOW, FREE)
    assert page.unit is not None and page.unit.name == "办公室"
    assert page.unit.members == 4 and names(page.results) == ["李明", "孙丽", "吴静", "赵敏"]


def test_the_tree_lists_open_units_with_their_people(engine, people):
    with engine.db.write() as s:
        s.execute(update(Unit).where(Unit.code == "legal").values(closed_at=NOW))
    tree = directory.page(engine.db, people["liming"], NOW, FREE).tree
    assert [(n.name, n.depth, n.members) for n in tree[:3]] == [
        ("华东建设集团有限公司", 0, 0), ("公司领导", 1, 3), ("办公室", 1, 6)]  # fmt: skip
    assert "法务部" not in [n.name for n in tree]
    with pytest.raises(NotFound):
        directory.page(engine.db, people["liming"], NOW, FREE, unit_id=999_999)


def _many(engine, n: int) -> list[int]:
    """``n`` people named 王一… in 工程管理部 (王 + a number: the same pinyin start)."""
    with engine.db.write() as s:
        unit = s.scalar(select(Unit.id).where(Unit.code == "engineering"))
        rows = []
        for i in range(n):
            name = f"王{i:03d}"
            pinyin, initials = name_keys(name)
            rows.append({"login": f"w{i:03d}", "name": name, "unit_id": unit, "status": "active",
                         "pinyin": pinyin, "initials": initials})  # fmt: skip
        s.execute(insert(User), rows)
        return list(
            s.scalars(select(User.id).where(User.login.like("w0%") | User.login.like("w1%")))
        )


def test_results_come_fifty_at_a_time_and_more_continues_after_the_last(engine, people):
    _many(engine, 120)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        got = find(engine, people, "wang", after=after)
        pages += 1
        assert len(got.cards) <= directory.PAGE_SIZE
        seen += names(got)
        if got.more is None:
            break
        assert got.more == got.cards[-1].id
        after = got.more
    assert pages == 3
    assert len(seen) == 121 and len(set(seen)) == 121  # the 120 and 王芳, each once
    assert seen == sorted(seen, key=lambda n: (name_keys(n)[0], n))


def test_a_unit_pages_the_same_way(engine, people):
    _many(engine, 60)
    unit = next(n.id for n in directory.unit_tree(engine.db) if n.code == "engineering")
    first = directory.page(engine.db, people["liming"], NOW, FREE, unit_id=unit)
    assert len(first.results.cards) == 50 and first.results.more is not None
    second = directory.page(engine.db, people["liming"], NOW, FREE, unit_id=unit,
                            after=first.results.more)  # fmt: skip
    assert len(second.results.cards) == 14 and second.results.more is None
    assert not {c.id for c in first.results.cards} & {c.id for c in second.results.cards}


# --- the rate limit ------------------------------------------------------------------------------


def test_the_rate_refuses_past_the_limit_until_the_window_ends(engine, people):
    rate = ratelimit.Rate(3, timedelta(minutes=10))
    me = people["wangfang"]
    for _ in range(3):
        directory.search(engine.db, me, "wf", NOW, rate)
    with pytest.raises(RateLimited) as refused:
        directory.page(engine.db, me, NOW + timedelta(minutes=9), rate)
    assert refused.value.retry_at == NOW + timedelta(minutes=10)
    assert "try again after" in str(refused.value)
    # a refused request does not count; somebody else is not affected
    with engine.db.read() as s:
        assert s.scalar(select(RateCount.count).where(RateCount.key == str(me))) == 3
    directory.search(engine.db, people["liming"], "wf", NOW, rate)
    # the window has ended: a new one opens
    directory.person(engine.db, me, me, NOW + timedelta(minutes=10), rate)
    with engine.db.read() as s:
        row = s.execute(select(RateCount).where(RateCount.key == str(me))).scalar_one()
        assert (row.count, row.window_start) == (1, NOW + timedelta(minutes=10))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request):
    return request.getfixturevalue("db" if request.param == "sqlite" else "pg_db")


def test_two_threads_at_once_are_each_counted(any_db):
    setup_engine(any_db)
    rate = ratelimit.Rate(10_000)
    per_thread = 40
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                ratelimit.hit(any_db, "directory", "42", NOW, rate)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with any_db.read() as s:
        assert s.scalar(select(RateCount.count).where(RateCount.key == "42")) == 2 * per_thread
    # past the limit under the same race: exactly the limit is served
    tight = ratelimit.Rate(50)
    served: list[int] = []

    def burst() -> None:
        start.wait()
        for _ in range(per_thread):
            try:
                ratelimit.hit(any_db, "directory", "43", NOW, tight)
                served.append(1)
            except RateLimited:
                pass

    threads = [threading.Thread(target=burst) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(served) == 50  # of 80 asked at once, exactly the limit was served
    with any_db.read() as s:
        assert s.scalar(select(RateCount.count).where(RateCount.key == "43")) == 50
