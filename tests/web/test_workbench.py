"""The workbench page: each tab with its count, search, paging, marks, and only one's own rows."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest

from web.workbench import page_numbers

CONTRACT = {
    "title": "办公楼空调采购合同",
    "counterparty": "上海申能机电有限公司",
    "amount": "68000",
    "contract_type": "purchase",
    "summary": "采购空调 4 台",
}
SEAL = {"title": "投标文件用印", "seal": "company", "copies": "3", "purpose": "投标"}


def contract(engine, people, title=CONTRACT["title"]):
    return engine.start(people["huangyong"], "contract_review", {**CONTRACT, "title": title})


def count(html: str, tab: str) -> int:
    found = re.search(rf'id="count-{tab}">(\d+)<', html)
    assert found, f"the {tab} tab shows a count"
    return int(found.group(1))


def rows(html: str) -> list[str]:
    """The titles of the table's rows, in order."""
    cells = re.findall(r'<td class="title"[^>]*>(.*?)</td>', html, re.S)
    return [re.sub(r"<[^>]+>", " ", c).split()[0] for c in cells]


@pytest.mark.parametrize(
    "url", ["/", "/workbench/done", "/workbench/started", "/workbench/circulated"]
)
def test_the_workbench_needs_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_the_dept_head_has_the_new_contract_to_do(client, auth, engine, people):
    out = contract(engine, people)
    auth.login("qianxuejun")
    page = client.get("/").text
    assert count(page, "todo") == 1 and count(page, "done") == 0 and count(page, "started") == 0
    assert rows(page) == ["办公楼空调采购合同"]
    assert "合同评审" in page and "部门负责人审核" in page and "钱学军" in page
    assert 'aria-current="page"' in page.split('id="tab-todo"')[1].split(">")[0]
    if "flows.item" in client.application.view_functions:
        assert f'href="/items/{out.delivered[0]}"' in page


def test_the_initiator_sees_it_under_started_by_me_and_done(client, auth, engine, people):
    out = contract(engine, people)
    auth.login("huangyong")
    auth.post("/lang", {"lang": "en", "next": "/"})  # the assertions read English
    home = client.get("/").text
    assert count(home, "todo") == 0 and count(home, "started") == 1 and count(home, "done") == 1
    assert rows(home) == [] and "Nothing to do." in home
    started = client.get("/workbench/started").text
    assert rows(started) == ["办公楼空调采购合同"]
    assert "Started" in started and "钱学军" in started  # the host it waits for
    if "flows.flow" in client.application.view_functions:
        assert f'href="/flows/{out.flow_id}"' in started
    done = client.get("/workbench/done").text
    assert rows(done) == ["办公楼空调采购合同"] and "Draft" in done


def test_another_persons_rows_never_show(client, auth, engine, people):
    contract(engine, people, "财务部的合同")
    auth.login("mali")
    auth.post("/lang", {"lang": "en", "next": "/"})  # the assertions read English
    for url in ("/", "/workbench/done", "/workbench/started", "/workbench/circulated"):
        page = client.get(url).text
        assert "财务部的合同" not in page
        assert all(count(page, tab) == 0 for tab in ("todo", "done", "started", "circulated"))
    assert "Nothing has been circulated to you." in client.get("/workbench/circulated").text


def test_search_narrows_and_keeps_its_values(client, auth, engine, people):
    contract(engine, people, "办公楼空调采购合同")
    contract(engine, people, "打印机租赁合同")
    engine.start(people["huangyong"], "seal_usage", SEAL)
    auth.login("qianxuejun")
    auth.post("/lang", {"lang": "en", "next": "/"})  # the assertions read English
    assert count(client.get("/").text, "todo") == 3

    page = client.get("/?q=空调").text
    assert rows(page) == ["办公楼空调采购合同"]
    assert count(page, "todo") == 1 and 'value="空调"' in page
    assert 'href="/workbench/done?q=%E7%A9%BA%E8%B0%83"' in page  # tabs keep the search
    assert rows(client.get("/?type=seal_usage").text) == ["投标文件用印"]
    assert 'value="seal_usage" selected' in client.get("/?type=seal_usage").text
    assert rows(client.get("/?state=ended").text) == []
    assert "Nothing matches this search." in client.get("/?state=ended").text
    assert len(rows(client.get("/?state=active&from=2026-03-02&to=2026-03-02").text)) == 3
    assert rows(client.get("/?to=2026-03-01").text) == []


def test_unreadable_search_values_mean_any(client, auth, engine, people):
    contract(engine, people)
    auth.login("qianxuejun")
    page = client.get("/?from=yesterday&to=2026-02-31&state=lost&page=x")
    assert page.status_code == 200 and rows(page.text) == ["办公楼空调采购合同"]
    assert client.get("/workbench/inbox").status_code == 404


def test_paging(client, auth, engine, people):
    for n in range(23):
        contract(engine, people, f"合同{n:02d}")
    auth.login("qianxuejun")
    auth.post("/lang", {"lang": "en", "next": "/"})  # the assertions read English
    first = client.get("/").text
    assert count(first, "todo") == 23
    assert rows(first) == [f"合同{n:02d}" for n in range(22, 2, -1)]
    # Previous and next carry the edge row's key (keyset); the numbers stay plain pages.
    nxt = _href(first, "next")
    assert nxt.startswith("/?page=2&amp;after=") and 'rel="prev"' not in first
    assert 'href="/?page=2"' in first
    second = client.get(html.unescape(nxt)).text
    assert rows(second) == ["合同02", "合同01", "合同00"]
    assert rows(client.get("/?page=2").text) == rows(second)
    prev = _href(second, "prev")
    assert prev.startswith("/?before=") and 'rel="next"' not in second
    assert rows(client.get(html.unescape(prev)).text) == rows(first)
    assert "23 in all" in second
    beyond = client.get("/?page=9&q=合同")
    assert beyond.status_code == 302 and "page=2" in beyond.headers["Location"]
    assert "q=" in beyond.headers["Location"]


def _href(page: str, rel: str) -> str:
    return page.split(f'rel="{rel}" href="')[1].split('"')[0]


def test_cursors_a_page_did_not_make_are_refused_and_stale_ones_fall_back(
    client, auth, engine, people
):
    contract(engine, people, "合同")
    auth.login("qianxuejun")
    for bad in ("x", "-", "9" * 30, "１２", "1.x"):
        assert client.get(f"/?after={bad}").status_code == 400
        assert client.get(f"/workbench/done?before={bad}").status_code == 400
    assert client.get("/?after=1.2").status_code == 400
    assert client.get("/workbench/done?after=12").status_code == 400  # done's key has a time
    gone = client.get("/?page=3&after=1")  # nothing older than item 1: back to a page there is
    assert gone.status_code == 302 and "after" not in gone.headers["Location"]


def test_export_streams_every_tab_as_csv(client, auth, engine, people):
    contract(engine, people, "=导出合同")
    auth.login("qianxuejun")
    response = client.get("/workbench/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.text.splitlines()
    assert lines[0].startswith("tab,flow_id,item_id,title")
    assert len(lines) == 2 and lines[1].startswith("todo,") and "'=导出合同" in lines[1]


def test_a_vetoed_step_shows_the_rejected_mark(client, auth, engine, people):
    out = contract(engine, people)
    engine.forward(people["qianxuejun"], out.delivered[0])
    (veto,) = engine.inbox(people["yangfan"])
    engine.sign(people["yangfan"], veto.item_id, decision="reject", opinion="条款缺失")
    auth.login("liming")
    page = client.get("/").text
    assert 'class="mark-rejected"' in page
    assert "mark-overdue" not in page  # not past its deadline yet: no overdue mark


def test_titles_are_escaped(client, auth, engine, people):
    contract(engine, people, "<script>alert(1)</script>")
    auth.login("qianxuejun")
    page = client.get("/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_page_in_english(client, auth, engine, people):
    contract(engine, people)
    auth.login("qianxuejun")
    assert "合同评审" in client.get("/").text
    auth.post("/lang", {"lang": "en", "next": "/"})
    page = client.get("/").text
    assert '<html lang="en">' in page
    assert "To do" in page and "Started by me" in page and "Circulated to me" in page
    assert "Contract review" in page and "Department review" in page
    assert "合同评审" not in page and "部门负责人审核" not in page


def test_page_numbers_show_the_ends_and_a_window():
    assert page_numbers(1, 1) == [1]
    assert page_numbers(1, 4) == [1, 2, 3, 4]
    assert page_numbers(6, 20) == [1, None, 4, 5, 6, 7, 8, None, 20]
    assert page_numbers(20, 20) == [1, None, 18, 19, 20]


def test_dates_are_local_days(client, auth, engine, people, clock):
    clock.advance(hours=15)  # 2026-03-02 16:00:xx UTC: 2026-03-03 in Shanghai
    contract(engine, people)
    auth.login("qianxuejun")
    day = date(2026, 3, 3).isoformat()
    assert rows(client.get(f"/?from={day}&to={day}").text) == ["办公楼空调采购合同"]
    assert rows(client.get("/?to=2026-03-02").text) == []
