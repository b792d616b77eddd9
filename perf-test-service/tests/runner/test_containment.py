"""No process a locustfile starts outlives its run: forked, daemonised (setsid), or with its environment cleared."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from perf_test_service.runner import containment
from perf_test_service.runner.process import run_load

# At import, in every Locust process: a plain fork, a double fork + setsid (leaves the group and the session), and
# a double fork + setsid that also execs with an empty environment (no marker). Each writes its pid, then sleeps.
ESCAPING_LOCUSTFILE = """
import os

from locust import User, constant, task

PIDS = {pids!r}


def _escape(kind, daemonise, env):
    if os.fork() == 0:
        if daemonise:
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
        with open(os.path.join(PIDS, f"{{kind}}-{{os.getpid()}}"), "w"):
            pass
        os.execve("/bin/sleep", ["sleep", "600"], env)


_escape("fork", False, dict(os.environ))
_escape("setsid", True, dict(os.environ))
_escape("setsid-clean-env", True, {{}})


class Idle(User):
    wait_time = constant(0.2)

    @task
    def nothing(self):
        pass
"""


def escaping_locustfile(tmp_path: Path) -> tuple[Path, Path]:
    pids = tmp_path / "pids"
    pids.mkdir()
    path = tmp_path / "escaping.py"
    path.write_text(ESCAPING_LOCUSTFILE.format(pids=str(pids)))
    return path, pids


def forked(pids: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for entry in pids.iterdir():
        kind, _, pid = entry.name.rpartition("-")
        found.setdefault(kind, []).append(int(pid))
    return found


def alive(pid: int) -> bool:
    """/proc/<pid> exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill_leftovers(pids: Path) -> None:
    for pid_list in forked(pids).values():
        for pid in pid_list:
            if alive(pid):
                os.kill(pid, 9)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("workers", [0, 2], ids=["one-process", "master-and-2-workers"])
def test_stop_kills_everything_the_locustfile_started(nginx_target, tmp_path, workers):
    locustfile, pids = escaping_locustfile(tmp_path)
    seen: dict[str, list[int]] = {}
    asked: list[float] = []

    def stop_once_all_escaped(_snapshot: dict) -> None:
        seen.update(forked(pids))
        if not asked and sum(len(v) for v in seen.values()) == 3 * (workers + 1):
            assert all(alive(pid) for pid_list in seen.values() for pid in pid_list)
            asked.append(time.monotonic())

    try:
        result = run_load(
            locustfile, nginx_target, {"user_count": 2, "run_time": "5m", "workers": workers}, tmp_path / "run",
            on_stats=stop_once_all_escaped, should_stop=lambda: bool(asked),
        )  # fmt: skip
        gone_after = time.monotonic() - asked[0]
        assert result.outcome == "stopped", result.error
        assert set(seen) == {"fork", "setsid", "setsid-clean-env"}
        survivors = [pid for pid_list in forked(pids).values() for pid in pid_list if alive(pid)]
        assert survivors == []
        print(f"FIGURE containment (stop, {workers} workers): {sum(map(len, seen.values()))} forked processes, "
              f"all gone {gone_after:.2f}s after the stop")  # fmt: skip
    finally:
        kill_leftovers(pids)


@pytest.mark.timeout(90)
def test_the_deadline_kills_everything_the_locustfile_started(nginx_target, tmp_path):
    locustfile, pids = escaping_locustfile(tmp_path)
    started = time.monotonic()
    try:
        result = run_load(
            locustfile, nginx_target, {"user_count": 1, "run_time": "5m"}, tmp_path / "run", deadline=started + 6
        )
        assert result.outcome == "error" and result.error["code"] == "deadline_exceeded"
        assert set(forked(pids)) == {"fork", "setsid", "setsid-clean-env"}
        assert [pid for pid_list in forked(pids).values() for pid in pid_list if alive(pid)] == []
        print(f"FIGURE containment (deadline): everything gone {time.monotonic() - started - 6:.2f}s after it")
    finally:
        kill_leftovers(pids)


@pytest.mark.timeout(30)
def test_sweep_kills_marked_processes_whose_owner_died(tmp_path):
    """A stand-in for a dead worker's leftovers: a marker naming a pid that no longer runs."""
    import subprocess
    import sys

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
