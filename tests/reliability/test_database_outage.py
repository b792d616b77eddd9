"""The database away for 10 s, refused or blackholed, with a web and a load run under way and the reaper on.

Refused: the proxy in front of PostgreSQL closes every connection and refuses new ones (a restart, a crash).
Blackholed: iptables drops every packet to and from it, so connections hang instead of failing (a partition,
a dead host); the engine's TCP timeouts (shared/src/shared/db.py) must turn that into a prompt 503.
Either way the APIs answer 503 database_unavailable within ANSWER_BOUND_S, and both runs end `passed` with
nothing lost, executed once, while the reaper (every 2 s, heartbeat timeout 5 s) runs all along.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from shared.migrations import upgrade
from shared.testing import BackgroundProcess, WorkerProcess, free_port, service_env, wait_for_http, wait_until
from tests.reliability.bounds import bound
from tests.reliability.faults_helpers import PERF, WEB, Api, PausableProxy, serve_ok, serve_site, wait_terminal

pytestmark = [pytest.mark.browser]

PG = os.environ.get("FAULT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
OUTAGE_S = 10
# An API answer during the outage (connect_timeout + tcp_user_timeout of shared/src/shared/db.py), and the
# APIs back after it ends.
ANSWER_BOUND_S = bound("db_answer_s")
BACK_BOUND_S = bound("db_back_s")


@contextlib.contextmanager
def blackholed(port: int):
    """Drop every packet to and from 127.0.0.1:port until the block ends, however it ends."""
    iptables = shutil.which("iptables") or "/usr/sbin/iptables"
    if not Path(iptables).exists():
        pytest.fail("the blackhole test needs iptables (apt-get install iptables; .ci/run installs it)")
    rules = [["INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP"],
             ["INPUT", "-p", "tcp", "--sport", str(port), "-j", "DROP"]]  # fmt: skip
    added = []
    try:
        for rule in rules:
            subprocess.run([iptables, "-I", *rule], check=True, timeout=10)
            added.append(rule)
        yield
    finally:
        for rule in added:
            subprocess.run([iptables, "-D", *rule], check=False, timeout=10)


@contextlib.contextmanager
def outage(mode: str, proxy: PausableProxy):
    if mode == "refused":
        proxy.pause()
        try:
            yield
        finally:
            proxy.resume()
    else:
        with blackholed(proxy.port):
            yield


@pytest.fixture()
def pg_databases():
    stamp = f"{os.getpid()}_{int(time.time())}"
    names = [f"outage_web_{stamp}", f"outage_perf_{stamp}"]
    admin = create_engine(PG.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {PG} is needed for the outage test: {exc}")
    yield names
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _gunicorn(app: str, port: int, env: dict[str, str]) -> BackgroundProcess:
    args = [_bin("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4", app]
    return BackgroundProcess(args, env=env).start()


def _probe(url: str, headers: dict[str, str]) -> tuple[int, str, float]:
    began = time.monotonic()
    resp = requests.get(url, headers=headers, timeout=30)
    return resp.status_code, resp.text[:200], time.monotonic() - began


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", ["refused", "blackholed"])
def test_database_outage_gives_prompt_503_and_loses_nothing(mode, platform, pg_databases, tmp_path, durable_redis):
    proxy = PausableProxy("127.0.0.1", 5432).start()
    web_db, perf_db = (f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}" for name in pg_databases)
    upgrade("web_test_service", web_db.replace("postgresql://", "postgresql+psycopg://"))
    upgrade("perf_test_service", perf_db.replace("postgresql://", "postgresql+psycopg://"))
    redis_url = durable_redis.url.rsplit("/", 1)[0] + "/3"  # its own queue namespace, not the platform's
    web_env = service_env(redis_url, web_db, tmp_path / "web")
    perf_env = service_env(redis_url, perf_db, tmp_path / "perf")
    scheduler_db = f"sqlite:///{tmp_path / 'scheduler.db'}"
    upgrade("scheduler_service", scheduler_db)
    beat_env = service_env(redis_url, scheduler_db, tmp_path / "beat", REAPER_INTERVAL_S="2",
                           REAPER_HEARTBEAT_TIMEOUT_S="5")  # fmt: skip
    web_port, perf_port = free_port(), free_port()
    started: list = []
    with serve_site() as site, serve_ok() as target:
        try:
            started += [_gunicorn("web_test_service.wsgi:app", web_port, web_env),
                        _gunicorn("perf_test_service.wsgi:app", perf_port, perf_env)]  # fmt: skip
            for module, queue, env in (("web_test_service.worker", "web", web_env),
                                       ("perf_test_service.worker", "perf", perf_env)):  # fmt: skip
                worker = WorkerProcess(module, queue, env)
                started.append(worker)
                worker.start(timeout=90)
            beat_args = [sys.executable, "-m", "celery", "-A", "scheduler_service.worker", "beat",
                         "-S", "scheduler_service.beat:LockedScheduler", "--loglevel", "INFO"]  # fmt: skip
            started.append(BackgroundProcess(beat_args, beat_env).start())
            web = Api(f"http://127.0.0.1:{web_port}", platform.headers("tester", "outage"))
            perf = Api(f"http://127.0.0.1:{perf_port}", platform.headers("tester", "outage"))
            wait_for_http(f"{web.gateway}{WEB}/health", 60, 200)
            wait_for_http(f"{perf.gateway}{PERF}/health", 60, 200)
            steps = [("open", "/login.html", ""), *[("pause", "1000", "")] * 18, ("assertTitle", "Login", "")]
            script = web.web_script(site, steps, name="outage")
            web_run = web.web_run(script)
            scenario = perf.scenario(target, name="outage")
            perf_run = perf.perf_run(scenario, run_time="25s")
            wait_until(lambda: len(web.web_status(script)["steps"]) >= 2, 60, 0.1, what="the web run under way")
            wait_until(lambda: perf.perf_detail(perf_run)["state"] == "running", 60, 0.1, what="the load run under way")

            probes = {"web": f"{web.gateway}{WEB}/scripts/{script}/status",
                      "perf": f"{perf.gateway}{PERF}/runs/{perf_run}"}  # fmt: skip
            answers: list[tuple[str, int, str, float]] = []
            with outage(mode, proxy):
                cut = time.monotonic()
                while time.monotonic() - cut < OUTAGE_S:  # probe both APIs all along the outage
                    for name, url in probes.items():
                        answers.append((name, *_probe(url, web.headers)))
                    time.sleep(0.5)  # probe pacing, not synchronisation
            ended = time.monotonic()
            for url in probes.values():
                wait_until(lambda u=url: requests.get(u, headers=web.headers, timeout=10).status_code == 200,
                           BACK_BOUND_S, 0.2, what="the API back")  # fmt: skip
            back = time.monotonic() - ended
            web_final = wait_terminal(lambda: web.web_detail(web_run), 120, "the web run to finish")
            perf_final = wait_terminal(lambda: perf.perf_detail(perf_run), 120, "the load run to finish")
            saved = web.web_status(script)["steps"]
            report = requests.get(f"{perf.gateway}{PERF}/runs/{perf_run}/report.html", headers=perf.headers, timeout=30)
        finally:
            for process in reversed(started):
                process.stop()
            proxy.stop()
    slowest = max(seconds for *_, seconds in answers)
    print(
        f"FIGURE db outage ({mode}): {len(answers)} API answers during {OUTAGE_S} s, all 503 database_unavailable, "
        f"slowest {slowest:.1f}s (bound {ANSWER_BOUND_S}s); APIs back {back:.1f}s after it (bound {BACK_BOUND_S}s); "
        f"web run {web_final['state']} {len(saved)}/{len(steps)} steps, load run {perf_final['state']} "
        f"{perf_final['stats']['total']['requests']} requests; reaper every 2 s"
    )
    assert answers and all(code == 503 and "database_unavailable" in body for _, code, body, _ in answers), answers[:4]
    assert slowest <= ANSWER_BOUND_S
    assert back <= BACK_BOUND_S
    assert web_final["state"] == "passed" and web_final["attempts"] == 1, web_final
    assert [s["index"] for s in saved] == list(range(len(steps))), "a step was lost"
    assert perf_final["state"] == "passed" and perf_final["attempts"] == 1, perf_final
    assert perf_final["stats"]["total"]["requests"] > 0 and report.status_code == 200, report.status_code
