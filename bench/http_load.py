"""Benchmark 11: signed-in workbench requests/s through gunicorn on PostgreSQL, and memory.

``python bench/http_load.py [--quick] [--tree DIR] [--flows N] [--no-memory]`` (or
``bench/run.py --only http``).

A PostgreSQL schema named for the bench (``bench_http``; ``bench_http_10k`` with ``--quick``)
holds 100 k flows (10 k with ``--quick``), filled with bulk Core inserts and kept between runs (the fill is checked
by a marker row, and redone if the schema does not match). Each flow has one visit and two work
items: one for 量大 ("heavy", 30 % of them open: 30 k open and 70 k done at 100 k) and one for
one of 2,000 other people (5 % open); 李明 (the ordinary person) has 40 open and 400 done items
besides. gunicorn (``-w 4`` sync, 127.0.0.1 and a free port, ``--timeout 30``) serves the app of
``--tree`` (this tree by default: pass the base commit's worktree to compare). Eight client
threads (``http.client``, one connection each) sign in through the login form, then GET ``/``
for a fixed time; req/s, p50 and p99 are printed beside the targets. Then 20,000 requests (400
with ``--quick``) are sent and the RSS of each gunicorn worker is read from /proc before and
after. Finally ``banli worker`` runs 100 k cheap jobs (5 k) in a subprocess on SQLite while its
RSS is sampled. Skipped, with the reason, when PostgreSQL or gunicorn is not there. Only
127.0.0.1 is ever contacted; every phase is bounded in time.

Long because: the seeding, the server, the clients and the two memory measurements are one
benchmark's parts, read together (only bench/ holds it; workflow/ and web/ keep the 400 lines).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import CONTRACT, ROOT, fig, header, percentile, record, target
from sqlalchemy import create_engine, insert, select, text

PG_URL = os.environ.get(
    "BANLI_BENCH_POSTGRES_URL",
    os.environ.get("BANLI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
GUNICORN = Path(sys.executable).with_name("gunicorn")
BANLI = Path(sys.executable).with_name("banli")
PASSWORD = "bench-password"
CLIENTS = 8
TARGET_ORDINARY, TARGET_HEAVY, TARGET_P99_MS, TARGET_RSS_MB = 300, 150, 100.0, 20.0
SEED_VERSION = "1"
CHUNK = 5_000


# --- the database --------------------------------------------------------------------------------


def _url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def postgres_reason() -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    try:
        eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
    except Exception as e:
        return f"PostgreSQL not reachable at {PG_URL}: {type(e).__name__}: {str(e)[:120]}"
    return None


def seeded(schema: str, flows: int) -> dict[str, str]:
    """The schema filled (or reused), and the two logins to measure."""
    eng = create_engine(PG_URL)
    with eng.begin() as conn:
        exists = conn.scalar(
            text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s "
                 "AND table_name = 'bench_seed'"), {"s": schema}
        )  # fmt: skip
        if exists:
            mark = conn.scalar(text(f"SELECT mark FROM {schema}.bench_seed"))
            if mark == f"{SEED_VERSION}:{flows}":
                print(f"  reusing the seeded schema {schema} ({flows:,} flows)")
                eng.dispose()
                return {"ordinary": "liming", "heavy": "heavy"}
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    eng.dispose()
    t = time.perf_counter()
    _fill(_url(schema), flows)
    eng = create_engine(_url(schema))
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE bench_seed (mark text)"))
        conn.execute(text("INSERT INTO bench_seed VALUES (:m)"), {"m": f"{SEED_VERSION}:{flows}"})
        conn.execute(text("ANALYZE"))
    eng.dispose()
    print(f"  seeded schema {schema} with {flows:,} flows in {time.perf_counter() - t:.0f} s")
    return {"ordinary": "liming", "heavy": "heavy"}


def _fill(url: str, flows: int) -> None:
    from common import DEFINITIONS

    from workflow.demo_org import seed_organisation
    from workflow.engine import Engine
    from workflow.engine.registry import store_definition
    from workflow.passwords import hash_password
    from workflow.store.db import Database
    from workflow.store.models import DefinitionVersion, Flow, Unit, User, Visit, WorkItem

    db = Database(url)
    db.create_all()
    engine = Engine(db)
    with db.write() as s:
        people = seed_organisation(s)
        for p in DEFINITIONS:
            store_definition(s, p, engine.clock())
        version = s.scalar(
            select(DefinitionVersion.id).where(DefinitionVersion.key == "contract_review")
        )
    rng = random.Random(15)
    base = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    with db.engine.begin() as conn:
        unit = conn.scalar(select(Unit.id).where(Unit.code == "engineering"))
        conn.execute(
            insert(User),
            [{"login": "heavy", "name": "量大", "unit_id": unit, "status": "active"}]
            + [{"login": f"bench{i}", "name": f"测试用户{i}", "unit_id": unit, "status": "active"}
               for i in range(2000)],
        )  # fmt: skip
        conn.execute(User.__table__.update().values(password_hash=hash_password(PASSWORD)))
        heavy = conn.scalar(select(User.id).where(User.login == "heavy"))
        others = list(conn.scalars(select(User.id).where(User.login.like("bench%"))))
        me = people["liming"]
        initiators = list(people.values())
        first_flow = (conn.scalar(text("SELECT coalesce(max(id), 0) FROM flows")) or 0) + 1
        first_visit = (conn.scalar(text("SELECT coalesce(max(id), 0) FROM visits")) or 0) + 1
        fid, vid = first_flow, first_visit
        for start in range(0, flows, CHUNK):
            fl, vi, it = [], [], []
            for k in range(start, min(flows, start + CHUNK)):
                at = base + timedelta(minutes=k)
                fl.append({"id": fid, "definition_id": version, "title": f"合同 {k}",
                           "form": CONTRACT, "state": "dept_review", "initiator_id":
                           rng.choice(initiators), "started_at": at, "current_visit_id": None,
                           "version": 1, "audit_seq": 0, "audit_head": ""})  # fmt: skip
                vi.append({"id": vid, "flow_id": fid, "seq": 1, "step": "dept_review",
                           "entered_at": at, "via": "forward", "rejected": False,
                           "left_at": None})  # fmt: skip
                holders = [(heavy, rng.random() < 0.3), (rng.choice(others), rng.random() < 0.05)]
                if k < 440:
                    holders.append((me, k < 40))
                for user, open_ in holders:
                    it.append({"flow_id": fid, "visit_id": vid, "user_id": user, "role": "host",
                               "status": "open" if open_ else "done", "delivered_at": at,
                               "confirmed_at": None if open_ else at,
                               "handled_at": None if open_ else at,
                               "closed_at": None if open_ else at,
                               "action": None if open_ else "forward"})  # fmt: skip
                fid += 1
                vid += 1
            conn.execute(insert(Flow), fl)
            conn.execute(insert(Visit), vi)
            conn.execute(
                Flow.__table__.update()
                .where(Flow.id >= fl[0]["id"], Flow.id <= fl[-1]["id"])
                .values(current_visit_id=Flow.id - first_flow + first_visit)
            )
            conn.execute(insert(WorkItem), it)
        for table in ("flows", "visits"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))  # fmt: skip
    db.dispose()


# --- gunicorn ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn -w 4 (sync) on 127.0.0.1, serving ``tree``'s app over ``schema``."""

    def __init__(self, tree: Path, schema: str, workdir: Path) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "BANLI_DATABASE_URL": _url(schema),
            "BANLI_SECRET_KEY": "bench-secret-key-bench-secret-key",
            "BANLI_COOKIE_SECURE": "false",
        }
        self.log = open(workdir / "gunicorn.log", "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [str(GUNICORN), "-w", "4", "-k", "sync", "-b", f"127.0.0.1:{self.port}",
             "--timeout", "30", "web:create_app()"],
            cwd=workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {workdir / 'gunicorn.log'}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/login")
                c.getresponse().read()
                c.close()
                if len(self.workers()) == 4:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer within 60 s")

    def workers(self) -> list[int]:
        out = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.proc.pid:
                    out.append(int(d.name))
        return sorted(out)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (from /proc/<pid>/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the clients ---------------------------------------------------------------------------------


class Client:
    """One browser: a connection, its cookies, signed in through the login form."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Accept-Encoding": "identity"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        data = resp.read()
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                k, v = value.split(";", 1)[0].split("=", 1)
                self.cookies[k] = v
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return resp.status, data

    def sign_in(self, login: str) -> None:
        from urllib.parse import urlencode

        _, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        assert token, "no csrf_token on /login"
        form = {"csrf_token": token.group(1).decode(), "login": login, "password": PASSWORD}
        status, _ = self.request("POST", "/login", urlencode(form))
        assert status == 302, f"sign-in of {login} answered {status}"
        status, _ = self.request("GET", "/")
        assert status == 200, f"the workbench answered {status} after sign-in"


def load(
    port: int, login: str, seconds: float | None, total: int | None = None, pids: Any = list
) -> dict:
    """CLIENTS threads GET / for ``seconds`` (or until ``total`` requests in all); ``pids()``:
    the server processes whose CPU time the requests (not the sign-ins) cost."""
    clients = [Client(port) for _ in range(CLIENTS)]
    for c in clients:
        c.sign_in(login)
    times: list[list[float]] = [[] for _ in clients]
    errors = [0] * CLIENTS
    counter = iter(range(total or 10**12))
    lock = threading.Lock()
    stop_at = time.perf_counter() + (seconds if seconds else 600.0)

    def work(i: int) -> None:
        c = clients[i]
        while time.perf_counter() < stop_at:
            with lock:
                if next(counter, None) is None:
                    return
            t = time.perf_counter()
            status, _ = c.request("GET", "/")
            times[i].append(time.perf_counter() - t)
            if status != 200:
                errors[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    cpu0 = cpu_seconds(pids())
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(pids()) - cpu0
    every = [x for ts in times for x in ts]
    return {
        "requests": len(every),
        "rate": len(every) / wall,
        "p50": percentile(every, 0.5) * 1e3,
        "p99": percentile(every, 0.99) * 1e3,
        "errors": sum(errors),
        "cpu_ms": cpu / max(len(every), 1) * 1e3,
    }


# --- banli worker --------------------------------------------------------------------------------


def worker_memory(jobs: int, workdir: Path, tree: Path) -> dict | None:
    """RSS of ``banli worker`` while it runs ``jobs`` cheap jobs (SQLite), sampled each 0.2 s."""
    from common import setup

    from workflow.job_queue import JOBS

    db_path = workdir / "worker.db"
    st = setup(db_path)
    now = st.engine.clock()
    with st.db.engine.begin() as conn:
        for start in range(0, jobs, 10_000):
            conn.execute(
                insert(JOBS),
                [{"kind": "noop", "key": f"bench-{k}", "payload": {"n": k},
                  "due_at": now - timedelta(seconds=1), "status": "pending", "attempts": 0,
                  "max_attempts": 5, "created_at": now}
                 for k in range(start, min(jobs, start + 10_000))],
            )  # fmt: skip
    st.db.dispose()
    env = {**os.environ, "BANLI_DATABASE_URL": f"sqlite:///{db_path}", "PYTHONPATH": str(tree)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "workflow", "worker", "--once"],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    samples: list[tuple[float, float]] = []
    t0 = time.perf_counter()
    while proc.poll() is None and time.perf_counter() - t0 < 600:
        try:
            samples.append((time.perf_counter() - t0, rss_mb(proc.pid)))
        except OSError:
            break
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
    out = proc.communicate(timeout=10)[0]
    done = re.search(r"(\d+) done", out or "")
    if not samples or not done:
        print(f"  banli worker: no figures ({(out or '').strip()[-300:]})")
        return None
    n = len(samples)
    early = max(rss for _, rss in samples[n // 10 : max(n // 10 + 1, n // 5)])
    return {
        "jobs": int(done.group(1)),
        "seconds": samples[-1][0],
        "rss_first_mb": samples[0][1],
        "rss_early_mb": early,
        "rss_last_mb": samples[-1][1],
        "rss_max_mb": max(r for _, r in samples),
    }


# --- the run -------------------------------------------------------------------------------------


def run(
    quick: bool = False,
    tree: Path | None = None,
    flows: int | None = None,
    memory: bool = True,
    requests: int | None = None,
    jobs: int | None = None,
) -> None:
    tree = tree or ROOT
    flows = flows or (10_000 if quick else 100_000)
    seconds = 4.0 if quick else 15.0
    mem_requests = (requests or (400 if quick else 20_000)) if memory else 0
    jobs = (jobs or (5_000 if quick else 100_000)) if memory else 0
    header(
        f"11. HTTP: signed-in workbench, gunicorn -w 4 sync, PostgreSQL, {flows:,} flows, "
        f"{CLIENTS} clients, {seconds:g} s each; memory over {mem_requests:,} requests and "
        f"{jobs:,} jobs"
    )
    if tree != ROOT:
        print(f"  the app of {tree}")
    reason = postgres_reason()
    if reason is None and not GUNICORN.exists() and shutil.which("gunicorn") is None:
        reason = f"gunicorn not installed (looked for {GUNICORN})"
    if reason:
        print(f"  skipped: {reason}")
        record("http", {"skipped": reason})
        return
    schema = "bench_http" if flows == 100_000 else f"bench_http_{flows // 1000}k"
    logins = seeded(schema, flows)
    with tempfile.TemporaryDirectory(prefix="banli-bench-http-") as tmp:
        server = Server(tree, schema, Path(tmp))
        try:
            figures: dict[str, Any] = {"flows": flows}
            for who, goal in (("ordinary", TARGET_ORDINARY), ("heavy", TARGET_HEAVY)):
                load(server.port, logins[who], 1.0 if quick else 3.0)  # warm-up
                r = load(server.port, logins[who], seconds, pids=server.workers)
                cpu_ms = r["cpu_ms"]
                ok = r["rate"] >= goal
                print(
                    f"  {who:<9} ({logins[who]}): {r['requests']:6,} requests, "
                    f"{r['rate']:6.0f} req/s  p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms"
                    f"  errors {r['errors']}   {target(ok, f'≥ {goal} req/s')}  "
                    f"{target(r['p99'] <= TARGET_P99_MS, f'p99 ≤ {TARGET_P99_MS:g} ms')}"
                )
                print(
                    f"  {'':<9}  gunicorn workers' CPU per request: {cpu_ms:5.1f} ms "
                    "(steadier than req/s on a shared machine)"
                )
                figures |= {
                    f"{who}_req_per_s": fig(r["rate"], "req/s", f"≥ {goal}", ok),
                    f"{who}_p50_ms": fig(r["p50"], "ms"),
                    f"{who}_p99_ms": fig(
                        r["p99"], "ms", f"≤ {TARGET_P99_MS:g}", r["p99"] <= TARGET_P99_MS
                    ),
                    f"{who}_errors": r["errors"],
                    f"{who}_worker_cpu_ms_per_request": fig(cpu_ms, "ms"),
                }
            if not memory:
                return record("http", figures)
            pids = server.workers()
            before = {p: rss_mb(p) for p in pids}
            r = load(server.port, logins["ordinary"], None, mem_requests)
            after = {p: rss_mb(p) for p in server.workers()}
            growth = max(after.get(p, 0.0) - before[p] for p in pids)
            done = r["requests"]  # fewer than asked if the 600 s bound stopped them
            ok = growth <= TARGET_RSS_MB
            print(
                f"  worker RSS before {r['requests']:,} requests: "
                f"{', '.join(f'{before[p]:.0f}' for p in pids)} MB; after: "
                f"{', '.join(f'{after.get(p, 0):.0f}' for p in pids)} MB"
                f" ({r['rate']:.0f} req/s, errors {r['errors']})"
            )
            print(
                f"  largest growth of a worker: {growth:+.1f} MB   "
                f"{target(ok, f'≤ {TARGET_RSS_MB:g} MB over {done:,} requests')}"
            )
            figures["worker_rss_growth_mb"] = fig(growth, "MB", f"≤ {TARGET_RSS_MB:g}", ok)
            figures["worker_rss_requests"] = done
            figures["worker_rss_after_mb"] = fig(max(after.values()), "MB")
        finally:
            server.stop()
        w = worker_memory(jobs, Path(tmp), tree)
        if w:
            grow = w["rss_last_mb"] - w["rss_early_mb"]
            ok = grow <= TARGET_RSS_MB
            print(
                f"  banli worker: {w['jobs']:,} jobs in {w['seconds']:.0f} s; RSS at start "
                f"{w['rss_first_mb']:.0f} MB, after ~10 % {w['rss_early_mb']:.0f} MB, at the end "
                f"{w['rss_last_mb']:.0f} MB (max {w['rss_max_mb']:.0f})   "
                f"{target(ok, f'flat: ≤ {TARGET_RSS_MB:g} MB growth')}"
            )
            figures["worker_jobs_per_s"] = fig(w["jobs"] / w["seconds"], "jobs/s")
            figures["banli_worker_rss_growth_mb"] = fig(grow, "MB", f"≤ {TARGET_RSS_MB:g}", ok)
        record("http", figures)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tree", type=Path, help="serve this tree's app (e.g. the base worktree)")
    ap.add_argument("--flows", type=int, help="flows to seed (default 100,000; 10,000 quick)")
    ap.add_argument("--no-memory", action="store_true", help="only the req/s figures")
    ap.add_argument("--requests", type=int, help="requests of the memory phase")
    ap.add_argument("--jobs", type=int, help="jobs for banli worker's memory")
    args = ap.parse_args()
    tree = args.tree.resolve() if args.tree else None
    run(args.quick, tree, args.flows, not args.no_memory, args.requests, args.jobs)


if __name__ == "__main__":
    main()
