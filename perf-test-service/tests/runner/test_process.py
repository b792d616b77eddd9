"""Real Locust processes against a real nginx: live stats, final stats, report, stop, workers, errors."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from perf_test_service.runner.locustfile import generate_locustfile
from perf_test_service.runner.process import ENTRY_PATH, kill_stray, locust_pids, run_load
from perf_test_service.runner.thresholds import decide_state, evaluate_thresholds
from perf_test_service.scenario import Scenario
from shared.testing import free_port


def unused_url() -> str:
    """A URL on a loopback port nothing listens on (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}"


def count_locust_processes(workdir: Path) -> int:
    return len(locust_pids(workdir))


TOTAL_KEYS = {"requests", "failures", "rps", "avg_ms", "min_ms", "max_ms", "p50_ms", "p95_ms", "p99_ms"}
HISTORY_KEYS = {"t", "users", "rps", "failures_per_s", "p50_ms", "p95_ms"}


def write_scenario_locustfile(tmp_path: Path, host: str, requests: list[dict], wait_ms=(50, 100)) -> Path:
    scenario = Scenario.model_validate(
        {"name": "smoke", "host": host, "requests": requests, "wait_time_ms": {"min": wait_ms[0], "max": wait_ms[1]}}
    )
    path = tmp_path / "locustfile.py"
    path.write_text(generate_locustfile(scenario))
    return path


def write_custom_locustfile(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "custom_locustfile.py"
    path.write_text(textwrap.dedent(source))
    return path


def report_history(report_html: Path) -> list:
    """Return the chart history Locust embedded in its HTML report."""
    html = report_html.read_text()
    start = html.find('"history": [')
    assert start >= 0, "report.html carries no history"
    history, _end = json.JSONDecoder().raw_decode(html, start + len('"history": '))
    return history


@pytest.mark.timeout(60)
def test_single_process_run_gives_live_and_final_stats_report_and_csv(nginx_target, tmp_path):
    locustfile = write_scenario_locustfile(
        tmp_path,
        nginx_target,
        [
            {"name": "home", "path": "/", "weight": 3},
            {"name": "create", "method": "POST", "path": "/items", "json": {"a": 1}, "expect_status": 201},
            {"name": "missing", "path": "/missing"},
            {"name": "redirect", "path": "/redirect", "expect_status": 302},
        ],
    )
    snapshots: list[dict] = []
    workdir = tmp_path / "run"
    started = time.monotonic()

    result = run_load(
        locustfile,
        nginx_target,
        {"user_count": 3, "spawn_rate": 3, "run_time": "3s"},
        workdir,
        on_stats=snapshots.append,
    )

    assert time.monotonic() - started < 20
    assert result.outcome == "completed", result.error
    total = result.stats["total"]
    assert set(total) >= TOTAL_KEYS
    assert total["requests"] > 10
    assert 0 < total["failures"] < total["requests"]  # only "missing" fails
    assert total["rps"] > 0 and total["max_ms"] >= total["p95_ms"] >= total["p50_ms"] >= total["min_ms"] >= 0
    endpoints = {endpoint["name"]: endpoint for endpoint in result.stats["endpoints"]}
    assert set(endpoints) == {"home", "create", "missing", "redirect"}
    assert sum(endpoint["requests"] for endpoint in endpoints.values()) == total["requests"]
    assert sum(endpoint["failures"] for endpoint in endpoints.values()) == total["failures"]
    assert endpoints["missing"]["failures"] == endpoints["missing"]["requests"] > 0
    # The 302 to the metadata address counts as the expected answer: it was recorded, not followed.
    assert endpoints["redirect"]["failures"] == 0 and endpoints["redirect"]["requests"] > 0
    assert endpoints["create"]["method"] == "POST" and endpoints["create"]["failures"] == 0
    assert [error["name"] for error in result.stats["errors"]] == ["missing"]
    assert "404" in result.stats["errors"][0]["message"]
    assert result.stats["errors"][0]["count"] == total["failures"]
    assert result.users == 3 and result.worker_count == 1

    # Live stats arrived about every second while the load ran.
    running = [snapshot for snapshot in snapshots if snapshot["state"] == "running"]
    assert len(running) >= 2
    assert set(running[-1]["stats"]["total"]) >= TOTAL_KEYS and running[-1]["users"] == 3
    assert running[-1]["stats"]["total"]["requests"] > 0
    elapsed = [snapshot["elapsed_ms"] for snapshot in snapshots]
    assert elapsed == sorted(elapsed)

    assert len(result.history) >= 3
    assert all(set(point) == HISTORY_KEYS for point in result.history)
    assert any(point["rps"] > 0 for point in result.history)

    assert result.report_html is not None and result.report_html.exists()
    chart_history = report_history(result.report_html)
    # Locust's current_rps ignores the last 2 s, so a 3 s run may chart rps 0: response times are always there.
    assert len(chart_history) >= 3
    assert any(point["current_rps"][1] > 0 or point["response_time_percentile_0.5"][1] > 0 for point in chart_history)
    with open(result.stats_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_name = {row["Name"]: row for row in rows}
    assert int(by_name["Aggregated"]["Request Count"]) == total["requests"]
    assert int(by_name["missing"]["Failure Count"]) == endpoints["missing"]["failures"]

    ratio = total["failures"] / total["requests"]
    passing = evaluate_thresholds({"max_failure_ratio": ratio + 0.05, "p95_ms": 5000, "min_rps": 1}, result.stats)
    assert [check["passed"] for check in passing] == [True, True, True]
    assert decide_state(result.outcome, passing) == "passed"
    failing = evaluate_thresholds({"max_failure_ratio": ratio / 2, "min_rps": 1_000_000}, result.stats)
    assert [(check["name"], check["passed"]) for check in failing] == [
        ("max_failure_ratio", False),
        ("min_rps", False),
    ]
    assert decide_state(result.outcome, failing) == "failed"
    assert count_locust_processes(workdir) == 0


@pytest.mark.timeout(60)
def test_stop_mid_run_ends_quickly_keeps_partial_results_and_leaves_no_process(nginx_target, tmp_path):
    locustfile = write_scenario_locustfile(tmp_path, nginx_target, [{"path": "/"}])
    workdir = tmp_path / "run"
    stop_requested_at: list[float] = []

    def stop_once_load_is_measured(snapshot: dict) -> None:
        if snapshot["stats"]["total"]["requests"] > 0 and not stop_requested_at:
            stop_requested_at.append(time.monotonic())

    result = run_load(
        locustfile,
        nginx_target,
        {"user_count": 2, "run_time": "5m"},
        workdir,
        on_stats=stop_once_load_is_measured,
        should_stop=lambda: bool(stop_requested_at),
    )

    assert stop_requested_at, "the load never produced stats"
    assert time.monotonic() - stop_requested_at[0] < 5
    assert result.outcome == "stopped"
    assert decide_state(result.outcome, []) == "stopped"
    assert result.stats["total"]["requests"] > 0
    assert result.report_html is not None and len(report_history(result.report_html)) >= 1
    assert result.stats_csv is not None and "Aggregated" in result.stats_csv.read_text()
    assert count_locust_processes(workdir) == 0


@pytest.mark.timeout(90)
def test_two_workers_start_two_locust_processes_and_are_aggregated(nginx_target, tmp_path):
    locustfile = write_scenario_locustfile(tmp_path, nginx_target, [{"path": "/"}])
    workdir = tmp_path / "run"
    process_counts: list[int] = []
    worker_counts: list[int] = []

    def observe(snapshot: dict) -> None:
        process_counts.append(count_locust_processes(workdir))
        if snapshot["state"] == "running":
            worker_counts.append(snapshot["worker_count"])

    result = run_load(
        locustfile,
        nginx_target,
        {"user_count": 4, "spawn_rate": 4, "run_time": 3, "workers": 2},
        workdir,
        on_stats=observe,
    )

    assert result.outcome == "completed", result.error
    assert max(process_counts) == 3  # one master and two workers
    assert worker_counts and set(worker_counts) == {2}
    assert result.worker_count == 2 and result.users == 4
    assert result.stats["total"]["requests"] > 0
    assert sum(endpoint["requests"] for endpoint in result.stats["endpoints"]) == result.stats["total"]["requests"]
    log = result.log_path.read_text()
    assert len(set(re.findall(r"(\S+) \(index \d\) reported as ready", log))) == 2
    assert len(report_history(result.report_html)) >= 2
    assert count_locust_processes(workdir) == 0


@pytest.mark.timeout(60)
def test_unreachable_host_is_an_error_and_ends_early(tmp_path):
    host = unused_url()
    locustfile = write_scenario_locustfile(tmp_path, host, [{"path": "/"}])
    started = time.monotonic()

    result = run_load(
        locustfile,
        host,
        {"user_count": 2, "run_time": "30s"},
        tmp_path / "run",
        unreachable_abort_s=1.5,
    )

    assert time.monotonic() - started < 15
    assert result.outcome == "error"
    assert result.error["code"] == "target_unreachable"
    assert result.error["message"].startswith("target unreachable: ")
    assert "refused" in result.error["message"].lower()
    assert result.stats["total"]["failures"] == result.stats["total"]["requests"] > 0
    assert decide_state(result.outcome, []) == "error"


@pytest.mark.timeout(60)
def test_locustfile_that_fails_to_import_is_an_error(nginx_target, tmp_path):
    locustfile = write_custom_locustfile(tmp_path, "import no_such_module_here\n")

    result = run_load(locustfile, nginx_target, {"user_count": 1, "run_time": 2}, tmp_path / "run")

    assert result.outcome == "error"
    assert result.error["code"] == "locustfile_error"
    assert "No module named 'no_such_module_here'" in result.error["message"]
    assert count_locust_processes(tmp_path / "run") == 0


@pytest.mark.timeout(60)
def test_locustfile_whose_every_task_raises_is_an_error(nginx_target, tmp_path):
    locustfile = write_custom_locustfile(
        tmp_path,
        """
        from locust import User, constant, task

        class Broken(User):
            wait_time = constant(0.05)

            @task
            def explode(self):
                raise RuntimeError("boom in task")
        """,
    )

    result = run_load(locustfile, nginx_target, {"user_count": 1, "run_time": 2}, tmp_path / "run")

    assert result.outcome == "error"
    assert result.error == {"code": "locustfile_error", "message": "the locustfile raised: boom in task"}
    assert result.exceptions and result.exceptions[0]["count"] > 0


@pytest.mark.timeout(60)
def test_kill_stray_removes_leftover_locust_processes(tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    locustfile = write_custom_locustfile(
        tmp_path, "from locust import User, task\n\nclass U(User):\n    @task\n    def t(self):\n        pass\n"
    )
    config = workdir / "locust_config.json"
    # A worker whose master never comes: it keeps retrying, like one orphaned by a killed Celery worker.
    config.write_text(
        json.dumps(
            {
                "locustfile": str(locustfile),
                "host": "http://127.0.0.1:1",
                "master_host": "127.0.0.1",
                "master_port": int(unused_url().rsplit(":", 1)[1]),
            }
        )
    )
    stray = subprocess.Popen(
        [sys.executable, "-P", str(ENTRY_PATH), "worker", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while count_locust_processes(workdir) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # poll with a deadline for the process to appear in the process table
        assert count_locust_processes(workdir) == 1

        assert kill_stray(workdir) == 1

        assert stray.wait(timeout=5) == -9
        assert count_locust_processes(workdir) == 0
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait(timeout=5)


@pytest.mark.timeout(120)
def test_external_workers_join_the_master_and_fetch_the_locustfile(nginx_target, tmp_path):
    """The k8s shape: the master waits; `locust --worker -f -` processes started elsewhere join it."""
    locustfile = write_scenario_locustfile(tmp_path, nginx_target, [{"path": "/"}])
    port = free_port()
    locust = str(Path(sys.executable).with_name("locust"))
    join = [locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port), "-f", "-"]
    # Each its own temp dir, as each pod or container has: `-f -` writes the fetched locustfile to
    # $TMPDIR/<its name>, so two joiners sharing one would truncate it under each other's import.
    temp_dirs = [tmp_path / f"joiner-{n}" for n in range(2)]
    joiners = []
    for temp_dir in temp_dirs:
        temp_dir.mkdir()
        joiners.append(
            subprocess.Popen(
                join,
                cwd=tmp_path,
                env={**os.environ, "TMPDIR": str(temp_dir)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    try:
        result = run_load(
            locustfile, nginx_target, {"user_count": 4, "spawn_rate": 4, "run_time": 3, "workers": 2},
            tmp_path / "run", external_workers=True, master_port=port,
        )  # fmt: skip
    finally:
        for joiner in joiners:
            joiner.terminate()
            joiner.wait(10)
    assert result.outcome == "completed", result.error
    assert result.worker_count == 2 and result.stats["total"]["requests"] > 0


SHAPED_LOCUSTFILE = """
from locust import FastHttpUser, LoadTestShape, constant, task


class Visitor(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def home(self):
        self.client.get("/")


class TwoStepShape(LoadTestShape):
    # 2 users for the first second, 4 until 2.5 s, then the shape ends the run.
    def tick(self):
        elapsed = self.get_run_time()
        if elapsed < 1:
            return (2, 10)
        if elapsed < 2.5:
            return (4, 10)
        return None
"""


@pytest.mark.timeout(90)
def test_a_load_test_shape_drives_users_and_ends_the_run(nginx_target, tmp_path):
    locustfile = tmp_path / "shaped.py"
    locustfile.write_text(SHAPED_LOCUSTFILE)
    started = time.monotonic()
    # run_time is a cap here: the shape ends the run long before 60 s.
    result = run_load(locustfile, nginx_target, {"user_count": 1, "run_time": 60}, tmp_path / "run")
    assert result.outcome == "completed", result.error
    assert time.monotonic() - started < 30
    assert result.users == 4  # the shape's peak, not user_count
    assert result.stats["total"]["requests"] > 0


@pytest.mark.timeout(30)
def test_locust_pids_counts_live_processes_of_this_workdir_only(tmp_path):
    """Stand-ins with the driver's command line: a live one, a zombie, and one of another workdir."""
    workdir, other = tmp_path / "run", tmp_path / "other"

    def stand_in(code: str, folder: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", code, str(ENTRY_PATH), str(folder.resolve() / "locust_config.json")]
        )

    live = stand_in("import time; time.sleep(60)", workdir)
    zombie = stand_in("pass", workdir)  # exits at once and is not reaped until the end
    elsewhere = stand_in("import time; time.sleep(60)", other)
    try:
        deadline = time.monotonic() + 10
        while locust_pids(other) != [elsewhere.pid] and time.monotonic() < deadline:
            time.sleep(0.05)  # poll with a deadline for the stand-ins to start and the zombie to exit
        while zombie.pid in locust_pids(workdir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert locust_pids(workdir) == [live.pid]

        assert kill_stray(workdir) == 1
        assert live.wait(timeout=5) == -9
        assert locust_pids(workdir) == [] and locust_pids(other) == [elsewhere.pid]
    finally:
        for process in (live, zombie, elsewhere):
            if process.poll() is None:
                process.kill()
            process.wait(timeout=5)
