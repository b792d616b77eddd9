"""Run Locust in its own process group (one process, or a master plus N workers) and collect its results.

Where Linux allows it, each Locust process is the init of its own PID namespace, torn down with everything in it
when the process ends or when the thread that started it dies (runner/namespaces.py). Every pid here is the
host's: the Popen's (unshare's, the group leader), or the one ``namespaces.inner_pid`` finds to signal.

Locust is never imported here: importing it monkey-patches the process with gevent. The processes run
``locust_entry.py`` and talk to this module through files in the run's workdir (see that module).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from perf_test_service.runner import containment, namespaces
from perf_test_service.runner.confine import Limits, confined
from perf_test_service.scenario import RunParams
from shared.child_env import scrubbed_env
from shared.host_policy import parse_target

logger = logging.getLogger(__name__)

# Run by path (python -P), never imported: importing it would import locust here.
ENTRY_PATH = Path(__file__).with_name("locust_entry.py")
CONFIG_NAME = "locust_config.json"
LOG_NAME = "locust.log"
# Files a previous attempt at the same run may have left; removed so they cannot pass for this run's output.
_OUTPUT_NAMES = ("live.json", "result.json", "report.html", "stats.csv", "failures.csv", "exceptions.csv", "ending")
# The master touches this file when it starts to end the load and write its results (locust_entry.LoadRun.finish).
ENDING_NAME = "ending"

POLL_INTERVAL_S = 0.25
# After asking the master to stop: time it gets to stop users and write its files before the group is killed.
STOP_GRACE_S = 3.0
# A master that said it is ending (stop, deadline or the run's end) gets this long to write its report and CSV.
COLLECT_GRACE_S = 20.0
# Time left to worker processes to leave on their own after the master has exited (their results are in by then).
WORKER_EXIT_GRACE_S = 0.5
KILL_WAIT_S = 1.0
# Margin beyond run_time for process start-up and worker connection before the run counts as hung.
STARTUP_MARGIN_S = 60.0
# A zombie has exited (only its parent has not reaped it yet): it counts as gone.
_DEAD_STATES = frozenset({psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD})


@dataclass
class LoadResult:
    """What a load run produced: outcome, final stats and history, and the report files."""

    outcome: str  # "completed" | "stopped" | "error"
    error: dict | None  # {"code", "message"} when outcome is "error" (or a stopped run also had a problem)
    elapsed_ms: int
    users: int
    worker_count: int
    stats: dict  # {"total": {...}, "endpoints": [...], "errors": [...]}
    history: list[dict]
    exceptions: list[dict] = field(default_factory=list)
    report_html: Path | None = None
    stats_csv: Path | None = None
    log_path: Path | None = None

    def to_dict(self) -> dict:
        """Return a JSON-serialisable form for storing on the run row."""
        return {
            "outcome": self.outcome,
            "error": self.error,
            "elapsed_ms": self.elapsed_ms,
            "users": self.users,
            "worker_count": self.worker_count,
            "stats": self.stats,
            "history": self.history,
            "exceptions": self.exceptions,
            "report_html": str(self.report_html) if self.report_html else None,
            "stats_csv": str(self.stats_csv) if self.stats_csv else None,
            "log_path": str(self.log_path) if self.log_path else None,
        }


def run_load(
    locustfile_path: str | os.PathLike,
    host: str,
    params: RunParams | Mapping[str, Any],
    workdir: str | os.PathLike,
    *,
    on_stats: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
    unreachable_abort_s: float = 10.0,
    worker_connect_timeout_s: float = 30.0,
    external_workers: bool = False,
    master_bind_host: str = "127.0.0.1",
    master_port: int | None = None,
    pinned_addresses: list[str] | None = None,
    on_ending: Callable[[], None] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> LoadResult:
    """Run a locustfile against host and return its result; blocks until Locust has exited.

    ``on_stats`` receives a live snapshot about every second; ``should_stop`` is polled 4x a second and ends
    the load within a few seconds; ``deadline`` is an absolute ``time.monotonic()`` value after which the run is
    stopped as an error (default: run_time plus a start-up margin). Call from the thread that owns the run:
    the Locust processes (their namespaces) get a parent-death signal bound to it. With ``external_workers`` the
    master binds ``master_bind_host:master_port`` and waits for ``workers`` Locust workers started elsewhere (k8s).
    ``pinned_addresses`` (from the host policy at claim) are the only addresses the host may resolve to in the
    Locust processes (runner/pinning.py). ``on_ending`` is called once when the load starts to end (a stop, the
    deadline, or the master ending by itself): from then on the results are being written, and the caller should
    let that finish. The Locust processes get a scrubbed environment (plus ``extra_env``), carry the run's marker
    and are killed, with everything they started, before this returns (runner/containment.py).
    """
    run_params = params if isinstance(params, RunParams) else RunParams.model_validate(dict(params))
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    kill_stray(workdir)
    for name in _OUTPUT_NAMES:
        (workdir / name).unlink(missing_ok=True)
    if deadline is None:
        deadline = time.monotonic() + run_params.run_time + STARTUP_MARGIN_S
    containment.become_subreaper()
    known_children = containment.children_now()
    marker = containment.run_marker(workdir)
    env = scrubbed_env(**(extra_env or {}), **{containment.MARKER: marker})
    target = parse_target(host)
    pins = {"host": target.host, "port": target.port, "addresses": list(pinned_addresses)} if pinned_addresses else None

    # external_workers: the master waits for workers started elsewhere (k8s `locust --worker -f -`).
    expected_workers = run_params.workers if run_params.workers > (0 if external_workers else 1) else 0
    local_workers = 0 if external_workers else expected_workers
    config_path = workdir / CONFIG_NAME
    config_path.write_text(
        json.dumps(
            {
                "locustfile": str(Path(locustfile_path).resolve()),
                "host": host,
                "user_count": run_params.user_count,
                "spawn_rate": run_params.spawn_rate,
                "run_time_s": run_params.run_time,
                "expected_workers": expected_workers,
                "master_host": "127.0.0.1",
                "master_bind_host": master_bind_host,
                "master_port": (master_port or _free_port()) if expected_workers else 0,
                "workdir": str(workdir),
                "parent_pid": os.getpid(),
                "unreachable_abort_s": unreachable_abort_s,
                "worker_connect_timeout_s": worker_connect_timeout_s,
                "pins": pins,
                "external_workers": external_workers,
            }
        ),
        encoding="utf-8",
    )
    log_path = workdir / LOG_NAME
    processes: list[subprocess.Popen] = []
    stop_reason: str | None = None
    with open(log_path, "ab") as log:
        try:
            master = _spawn("run", config_path, workdir, log, env, process_group=None)
            processes.append(master)
            for _ in range(local_workers):
                processes.append(_spawn("worker", config_path, workdir, log, env, process_group=master.pid))
            stop_reason = _watch(master, workdir, on_stats, should_stop, deadline, on_ending)
        finally:
            _end_process_group(processes)
            # Whatever the locustfile forked, daemonised or left behind goes with the run.
            containment.end_run(marker, known_children)
    return _collect(workdir, stop_reason, processes[0].returncode if processes else None, log_path)


def _spawn(mode: str, config_path: Path, workdir: Path, log, env, *, process_group: int | None) -> subprocess.Popen:
    # -P: run the driver by path without putting its folder on sys.path (see locust_entry's docstring).
    command = [sys.executable, "-P", str(ENTRY_PATH), mode, str(config_path)]
    if held := namespaces.prefix():  # confine: unshare dies with this thread, its namespace with it
        command = confined([*held, *command], Limits())
    # The master leads a new process group that its workers join, so one killpg reaches every Locust process.
    # (A new session would forbid the workers from joining: setpgid only works within one session.)
    return subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        close_fds=True,
        process_group=0 if process_group is None else process_group,
    )


def _watch(
    master: subprocess.Popen,
    workdir: Path,
    on_stats: Callable[[dict], None] | None,
    should_stop: Callable[[], bool] | None,
    deadline: float,
    on_ending: Callable[[], None] | None = None,
) -> str | None:
    """Relay live stats until the master exits; ask it to stop when told to or at the deadline."""
    live_path = workdir / "live.json"
    last_seen: tuple[int, int] | None = None
    stop_reason: str | None = None
    stop_sent_at: float | None = None
    ending = _Once(on_ending)
    try:
        while True:
            try:
                master.wait(timeout=POLL_INTERVAL_S)
                return stop_reason
            except subprocess.TimeoutExpired:
                pass
            last_seen = _relay_live_stats(live_path, last_seen, on_stats)
            if (workdir / ENDING_NAME).exists():
                ending()
            now = time.monotonic()
            if stop_sent_at is None:
                stop_reason = _stop_reason(should_stop, deadline, now)
                if stop_reason is not None:
                    ending()
                    # The master stops its workers over ZeroMQ and writes report, CSV and result before exiting.
                    master_pid = namespaces.inner_pid(master)
                    logger.info("stopping Locust master %s (%s)", master_pid, stop_reason)
                    _signal(master_pid, signal.SIGTERM)
                    stop_sent_at = now
            elif now - stop_sent_at > (COLLECT_GRACE_S if (workdir / ENDING_NAME).exists() else STOP_GRACE_S):
                logger.warning("Locust master %s did not end in time after SIGTERM; killing its group", master.pid)
                return stop_reason
    finally:
        ending()  # the master is gone (or about to be killed): what follows is collecting


class _Once:
    """Call a callback at most once (None: never)."""

    def __init__(self, callback: Callable[[], None] | None):
        self.callback = callback

    def __call__(self) -> None:
        callback, self.callback = self.callback, None
        if callback is not None:
            callback()


def _stop_reason(should_stop: Callable[[], bool] | None, deadline: float, now: float) -> str | None:
    if _asked_to_stop(should_stop):
        return "stopped"
    return "deadline" if now >= deadline else None


def _relay_live_stats(
    live_path: Path, last_seen: tuple[int, int] | None, on_stats: Callable[[dict], None] | None
) -> tuple[int, int] | None:
    try:
        status = live_path.stat()
    except FileNotFoundError:
        return last_seen
    seen = (status.st_mtime_ns, status.st_ino)
    if seen == last_seen or on_stats is None:
        return seen
    try:
        snapshot = json.loads(live_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return last_seen
    try:
        on_stats(snapshot)
    except Exception:  # a failed live update must not abandon the running Locust processes
        logger.exception("on_stats callback failed")
    return seen


def _asked_to_stop(should_stop: Callable[[], bool] | None) -> bool:
    if should_stop is None:
        return False
    try:
        return bool(should_stop())
    except Exception:  # e.g. Redis briefly unreachable: keep running; the deadline still applies
        logger.exception("should_stop callback failed")
        return False


def _end_process_group(processes: list[subprocess.Popen]) -> None:
    """Let workers leave after the master, then SIGTERM and SIGKILL the group; reap every child."""
    if not processes:
        return
    group = processes[0].pid
    _wait_all(processes, WORKER_EXIT_GRACE_S)
    if any(process.poll() is None for process in processes) or _group_alive(group):
        _signal_group(group, signal.SIGTERM)
        _wait_all(processes, KILL_WAIT_S)
    if any(process.poll() is None for process in processes) or _group_alive(group):
        _signal_group(group, signal.SIGKILL)
        _wait_all(processes, KILL_WAIT_S)


def _wait_all(processes: list[subprocess.Popen], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))


def _collect(workdir: Path, stop_reason: str | None, exit_code: int | None, log_path: Path) -> LoadResult:
    """Build the result from result.json, or from the last live snapshot if Locust died without one."""
    payload = _read_json(workdir / "result.json")
    if payload is None:
        payload = _read_json(workdir / "live.json") or {}
        payload["outcome"] = "stopped" if stop_reason == "stopped" else "error"
        payload["error"] = {
            "code": "locust_crashed",
            "message": f"Locust exited with code {exit_code} before writing its results: {_log_tail(log_path)}",
        }
    outcome, error = payload.get("outcome") or "error", payload.get("error")
    if stop_reason == "stopped" and outcome != "completed":
        outcome = "stopped"
    elif stop_reason == "deadline":
        outcome, error = "error", {"code": "deadline_exceeded", "message": "the run exceeded its time limit"}
    stats = payload.get("stats") or {"total": {}, "endpoints": [], "errors": []}
    report = workdir / "report.html"
    stats_csv = workdir / "stats.csv"
    return LoadResult(
        outcome=outcome,
        error=error,
        elapsed_ms=int(payload.get("elapsed_ms") or 0),
        users=int(payload.get("users") or 0),
        worker_count=int(payload.get("worker_count") or 0),
        stats=stats,
        history=payload.get("history") or [],
        exceptions=payload.get("exceptions") or [],
        report_html=report if report.exists() else None,
        stats_csv=stats_csv if stats_csv.exists() else None,
        log_path=log_path,
    )


def kill_stray(workdir: str | os.PathLike) -> int:
    """SIGKILL every Locust process still running for this workdir (e.g. left by a lost worker); return the count."""
    pids = locust_pids(workdir)
    for pid in pids:
        _signal(pid, signal.SIGKILL)
    remaining = list(pids)
    deadline = time.monotonic() + 5.0
    while remaining and time.monotonic() < deadline:
        time.sleep(0.05)  # bounded poll: strays are not our children, so there is nothing to wait() on
        remaining = [pid for pid in remaining if _is_running(pid)]
    return len(pids)


def locust_pids(workdir: str | os.PathLike) -> list[int]:
    """Return the ids of live Locust driver processes started for this workdir."""
    entry_path, config_path = str(ENTRY_PATH), str(Path(workdir).resolve() / CONFIG_NAME)
    pids = []
    for process in psutil.process_iter(["cmdline", "status"]):
        arguments = process.info["cmdline"] or []
        ours = entry_path in arguments and config_path in arguments
        # Not its wrappers (confine, unshare), which name the driver after their `--`.
        ours = ours and "--" not in arguments[: arguments.index(entry_path)]
        if ours and process.info["status"] not in _DEAD_STATES:
            pids.append(process.pid)
    return pids


def _is_running(pid: int) -> bool:
    """Return True if the process exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() not in _DEAD_STATES
    except psutil.Error:
        return False


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def _free_port() -> int:
    # The master binds it a moment later; a collision would show up as a clear "address in use" error in the log.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _log_tail(log_path: Path, limit: int = 1500) -> str:
    try:
        return log_path.read_text(encoding="utf-8", errors="replace")[-limit:].strip()
    except OSError:
        return "(no log)"
