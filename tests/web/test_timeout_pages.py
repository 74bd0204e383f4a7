"""A step the system moved on when its deadline passed, as the flow page and the sheet show it."""

from __future__ import annotations

from tests.engine.test_timeouts import TIMED
from workflow.engine import timeouts
from workflow.engine.registry import store_definition
from workflow.jobs import Worker


def timed_out_flow(engine, people, clock) -> int:
    """A timed review whose department review the system forwarded to filing."""
    with engine.db.write() as s:
        store_definition(s, TIMED, engine.clock())
    fid = engine.start(
        people["huangyong"], "timed_review", {"title": "差旅费报销复核", "route": "forward"}
    ).flow_id
    worker = Worker(engine.db, worker_id="test-worker")
    timeouts.register(worker, engine)
    clock.advance(days=10)
    worker.run_once(now=clock.now)
    assert engine.history(fid).state == "filing"
    return fid


def test_the_flow_page_shows_the_step_moved_on_by_the_system(client, auth, engine, people, clock):
    fid = timed_out_flow(engine, people, clock)
    auth.login("huangyong")
    page = client.get(f"/flows/{fid}").text
    assert "系统：超时自动转交" in page
    assert page.count("未办理（已关闭）") == 2  # the host's and the handler's parts
    auth.post("/lang", {"lang": "en", "next": "/"})
    page = client.get(f"/flows/{fid}").text
    assert "System: Forwarded automatically on timeout" in page


def test_the_printed_sheet_shows_it_too(client, auth, engine, people, clock):
    fid = timed_out_flow(engine, people, clock)
    engine.end(people["zhaomin"], engine.inbox(people["zhaomin"])[0].item_id, outcome="rejected")
    auth.login("huangyong")
    page = client.get(f"/flows/{fid}/sheet").text
    assert "部门审核 (系统：超时自动转交)" in page
