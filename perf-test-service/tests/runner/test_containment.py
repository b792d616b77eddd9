"""No process a locustfile starts outlives its run: forked, daemonised (setsid), or with its environment cleared."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from perf_test_service.runner import containment, namespaces
from perf_test_service.runner.process import kill_stray, run_load
from shared.testing import wait_until

# At import, in every Locust process: a plain fork, a double fork + setsid (leaves the group and the session), and
# a double fork + setsid that also execs with an empty environment (no marker). Each execs `sleep 600` under an
# argv[0] naming the test's token and its kind: the test finds them by it (a pid seen inside a PID namespace is
# not the host's).
ESCAPING_LOCUSTFILE = """
import os

from locust import User, constant, task

TOKEN = {token!r}


def _escape(kind, daemonise, env):
    if os.fork() == 0:
        if daemonise:
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
        os.execve("/bin/sleep", [f"{{TOKEN}}-{{kind}}", "600"], env)


_escape("fork", False, dict(os.environ))
_escape("setsid", True, dict(os.environ))
_escape("setsid-clean-env", True, {{}})


class Idle(User):
    wait_time = constant(0.2)

    @task
    def nothing(self):
        pass
"""
KINDS = {"fork", "setsid", "setsid-clean-env"}


def escaping_locustfile(tmp_path: Path) -> tuple[Path, str]:
    """The escaping locustfile in tmp_path, and the token its processes carry."""
    token = f"escapee-{uuid.uuid4().hex[:12]}"
    path = tmp_path / "escaping.py"
    path.write_text(ESCAPING_LOCUSTFILE.format(token=token))
    return path, token


def forked(token: str) -> dict[str, list[int]]:
    """The host pids of the live (not zombie) processes carrying token, by kind."""
    found: dict[str, list[int]] = {}
    for process in psutil.process_iter(["cmdline", "status"]):
        name = (process.info["cmdline"] or [""])[0]
        if name.startswith(f"{token}-") and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.setdefault(name.removeprefix(f"{token}-"), []).append(process.pid)
    return found


def still_running(processes: list[psutil.Process]) -> list[int]:
    """The pids of those processes still running (not gone, not a zombie). A process, not a pid: once they die a
    pid may be another process's; and a process that is dying has lost its argv (forked no longer sees it)
    before it is a zombie, so it is waited for, not judged at one instant."""
    running = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process.pid)
    return running


def processes_of(pids: list[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            found.append(psutil.Process(pid))
    return found


def kill_leftovers(token: str) -> None:
    for pid_list in forked(token).values():
        for pid in pid_list:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(params=["namespaces", "no-namespaces"])
def namespaced(request, monkeypatch) -> bool:
    """Both ways a run is held: in PID namespaces, and (where Linux forbids them) by the fallback holds alone."""
    if request.param == "no-namespaces":
        monkeypatch.setattr(namespaces, "prefix", lambda **_: [])
    else:
        assert namespaces.prefix(), "this machine can create PID namespaces (root, or user namespaces allowed)"
    return request.param == "namespaces"


def seen_so_far(token: str, seen: dict[str, dict[int, psutil.Process]]) -> int:
    """Add the live escapees to seen (as processes); return how many were ever seen."""
    for kind, pid_list in forked(token).items():
        known = seen.setdefault(kind, {})
        known |= {process.pid: process for process in processes_of([pid for pid in pid_list if pid not in known])}
    return sum(map(len, seen.values()))


@pytest.mark.timeout(90)
@pytest.mark.parametrize("workers", [0, 2], ids=["one-process", "master-and-2-workers"])
def test_stop_kills_everything_the_locustfile_started(nginx_target, tmp_path, workers, namespaced):
    locustfile, token = escaping_locustfile(tmp_path)
    seen: dict[str, dict[int, psutil.Process]] = {}
    asked: list[float] = []

    def stop_once_all_escaped(_snapshot: dict) -> None:
        if not asked and seen_so_far(token, seen) == 3 * (workers + 1):
            asked.append(time.monotonic())

    try:
        result = run_load(
            locustfile, nginx_target, {"user_count": 2, "run_time": "5m", "workers": workers}, tmp_path / "run",
            on_stats=stop_once_all_escaped, should_stop=lambda: bool(asked),
        )  # fmt: skip
        gone_after = time.monotonic() - asked[0]
        assert result.outcome == "stopped", result.error
        assert set(seen) == KINDS
        assert forked(token) == {}
        escapees = [process for by_pid in seen.values() for process in by_pid.values()]
        wait_until(lambda: not still_running(escapees), 10, 0.01, what="every escapee to be gone")
        mode = "namespaces" if namespaced else "no namespaces"
        print(f"FIGURE containment (stop, {workers} workers, {mode}): {sum(map(len, seen.values()))} forked "
              f"processes, all gone {gone_after:.2f}s after the stop")  # fmt: skip
    finally:
        kill_leftovers(token)


@pytest.mark.timeout(90)
def test_the_deadline_kills_everything_the_locustfile_started(nginx_target, tmp_path):
    locustfile, token = escaping_locustfile(tmp_path)
    seen: dict[str, dict[int, psutil.Process]] = {}
    started = time.monotonic()
    try:
        result = run_load(
            locustfile, nginx_target, {"user_count": 1, "run_time": "5m"}, tmp_path / "run", deadline=started + 6,
            on_stats=lambda _snapshot: seen_so_far(token, seen),
        )  # fmt: skip
        assert result.outcome == "error" and result.error["code"] == "deadline_exceeded"
        assert set(seen) == KINDS
        assert forked(token) == {}
        print(f"FIGURE containment (deadline): everything gone {time.monotonic() - started - 6:.2f}s after it")
    finally:
        kill_leftovers(token)


# The process that runs the run, as a pool child of the perf worker does: run_load from its main thread.
RUNNING_PROCESS = """
import sys
from perf_test_service.runner.process import run_load
locustfile, target, workdir, workers = sys.argv[1:]
run_load(locustfile, target, {"user_count": 1, "run_time": "5m", "workers": int(workers)}, workdir)
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("workers", [0, 2], ids=["one-process", "master-and-2-workers"])
def test_a_sigkilled_run_leaves_nothing_not_even_a_daemon_without_marker(nginx_target, tmp_path, workers):
    """SIGKILL of the process running the run, and no worker starting after it (no sweep): all gone."""
    locustfile, token = escaping_locustfile(tmp_path)
    workdir = tmp_path / "run"
    with open(tmp_path / "running.log", "wb") as log:
        running = subprocess.Popen(
            [sys.executable, "-c", RUNNING_PROCESS, str(locustfile), nginx_target, str(workdir), str(workers)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        everyone = 3 * (workers + 1)
        wait_until(lambda: sum(map(len, forked(token).values())) == everyone, 60, 0.05, what="the escapees")
        escapees = forked(token)
        assert set(escapees) == KINDS
        processes = processes_of([pid for pid_list in escapees.values() for pid in pid_list])
        killed_at = time.monotonic()
        running.kill()
        assert running.wait(timeout=5) == -signal.SIGKILL
        wait_until(lambda: not forked(token) and not still_running(processes), 10, 0.01,
                   what="every escapee to die with the run's process")  # fmt: skip
        gone_after = time.monotonic() - killed_at
        print(f"FIGURE containment (SIGKILL of the run's process, {workers} workers, no sweep): {everyone} "
              f"escapees, the daemon without a marker included, gone {gone_after:.3f}s after the kill")  # fmt: skip
    finally:
        if running.poll() is None:
            running.kill()
            running.wait(timeout=5)
        kill_stray(workdir)
        kill_leftovers(token)


@pytest.mark.timeout(30)
def test_sweep_kills_marked_processes_whose_owner_died(tmp_path):
    """A stand-in for a dead worker's leftovers: a marker naming a pid that no longer runs."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = f"{dead.pid}:1.00:{tmp_path}"
    live = f"{os.getpid()}:{psutil.Process().create_time():.2f}:{tmp_path}"
    orphan = subprocess.Popen(["sleep", "600"], env={containment.MARKER: stale}, start_new_session=True)
    owned = subprocess.Popen(["sleep", "600"], env={containment.MARKER: live}, start_new_session=True)
    try:
        assert containment.sweep_orphaned_runs() >= 1
        assert orphan.wait(timeout=5) == -9
        assert owned.poll() is None  # a live owner's run is left alone
    finally:
        for process in (orphan, owned):
            if process.poll() is None:
                process.kill()
            process.wait(timeout=5)
