"""Locust process entry point: `python -P locust_entry.py run|worker CONFIG.json`, using Locust as a library.

This file runs only inside the Locust subprocesses started by ``process``. It is
started by path with ``-P`` (not ``-m``) so that importing it does not import the ``perf_test_service`` package
(Flask, Celery, ssl) before Locust's gevent monkey-patching, and so it imports nothing from that package.

Files it writes in the run's workdir:
    live.json    replaced about every second: {state, elapsed_ms, users, worker_count, stats, history}
    result.json  written once at the end: the live fields plus outcome, error, exceptions, files
    report.html  Locust's own HTML report (charts from the history sampled every second)
    stats.csv, failures.csv, exceptions.csv  Locust's CSV tables
"""

# ruff: noqa: E402  -- a signal handler and the locust import must precede the other imports (see below).

from __future__ import annotations

import os
import signal
import sys

_stop_requested_early = False


def _on_early_signal(signum, _frame) -> None:
    """Remember a stop that arrives while Locust is still importing; a worker simply leaves."""
    global _stop_requested_early
    if sys.argv[1:2] == ["run"]:
        _stop_requested_early = True
    else:
        # A worker that has not joined yet holds no results; leave at once, whatever is running now.
        os._exit(128 + signum)


# A stop can come during the ~1 s Locust takes to import; the default action would lose the run's result file.
signal.signal(signal.SIGTERM, _on_early_signal)
signal.signal(signal.SIGINT, _on_early_signal)

# Locust must be imported before anything that could import ssl/threading: it monkey-patches them with gevent.
import locust  # noqa: F401  isort: skip

import csv
import importlib.util
import json
import logging
import re
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
import gevent.event
from locust import events
from locust import runners as locust_runners
from locust import stats as locust_stats
from locust.env import Environment
from locust.html import get_html_report
from locust.util.load_locustfile import load_locustfile

logger = logging.getLogger("perf_test_service.locust_entry")

SAMPLE_INTERVAL_S = 1.0
# Text of transport-level failures: when every request fails like this the target is unreachable.
_UNREACHABLE_PATTERN = re.compile(
    r"refused|reset by peer|name or service not known|temporary failure in name resolution|no route to host"
    r"|network is unreachable|nodename nor servname|gaierror|getaddrinfo|timed out|timeout|connectionerror"
    r"|ssl|certificate|remote ?disconnected|connection aborted|broken pipe|errno",
    re.IGNORECASE,
)


def main(argv: list[str]) -> int:
    """Dispatch to the run (local or master) or worker mode."""
    if len(argv) != 2 or argv[0] not in ("run", "worker"):
        print("usage: locust_entry.py run CONFIG.json | worker CONFIG.json", file=sys.stderr)
        return 64
    mode, argument = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = json.loads(Path(argument).read_text(encoding="utf-8"))
    _die_with_parent(int(config.get("parent_pid") or 0))
    # Before any user code: the target resolves only to the addresses the host policy passed at claim.
    _pinning().install(config.get("pins"))
    code = run_worker(config) if mode == "worker" else LoadRun(config).run()
    if os.getpid() != 1 and os.getppid() != int(config.get("parent_pid") or 0) and os.getpgrp() == os.getpid():
        os.killpg(0, signal.SIGKILL)  # orphaned master: its worker was killed; take what the locustfile forked along
    return code


def _die_with_parent(parent_pid: int) -> None:
    """Get SIGTERM when the process that started us dies, so a killed Celery worker leaves no Locust behind."""
    # As the init of its own PID namespace (pid 1, getppid() 0) it is held by unshare (runner/namespaces.py).
    if not parent_pid or not sys.platform.startswith("linux") or os.getpid() == 1:
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    # The parent may have died before prctl took effect.
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def _pinning():
    """runner/pinning.py, loaded by path (this process imports nothing from the perf_test_service package)."""
    spec = importlib.util.spec_from_file_location("testfleet_pinning", Path(__file__).with_name("pinning.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _user_code_error(locustfile: str) -> str:
    """Summarise the exception being handled, keeping the frames that point into the locustfile."""
    exc_type, exc, tb = sys.exc_info()
    frames = [frame for frame in traceback.extract_tb(tb) if frame.filename == locustfile]
    lines = traceback.format_list(frames) + traceback.format_exception_only(exc_type, exc)
    return "".join(lines).strip()


def _load_user_classes(locustfile: str):
    user_classes, shape_classes = load_locustfile(locustfile)
    if not user_classes:
        raise LookupError("the locustfile defines no User class")
    return list(user_classes.values()), (shape_classes[0] if shape_classes else None)


def run_worker(config: dict) -> int:
    """Run one Locust worker process that takes its load from the master."""
    # Report to the master every second (Locust's default is 3 s) so live stats stay within the ~2 s promise.
    locust_runners.WORKER_REPORT_INTERVAL = SAMPLE_INTERVAL_S
    # If the master vanishes, give up quickly instead of after Locust's 60 s.
    locust_runners.MASTER_HEARTBEAT_TIMEOUT = 10
    try:
        user_classes, shape_class = _load_user_classes(config["locustfile"])
    except BaseException:
        logger.error("worker cannot load the locustfile:\n%s", _user_code_error(config["locustfile"]))
        return 2
    # locust.events: the hooks a locustfile registers (init, test_start, test_stop) are on that object.
    environment = Environment(user_classes=user_classes, shape_class=shape_class, host=config["host"], events=events)
    runner = environment.create_worker_runner(config["master_host"], config["master_port"])
    environment.events.init.fire(environment=environment, runner=runner, web_ui=None)

    def quit_now() -> None:
        runner.stop()
        try:
            # Hand the master what this worker measured and tell it we are leaving, as Locust's CLI does.
            runner._send_stats()
            environment.events.quitting.fire(environment=environment, reverse=True)
        finally:
            runner.quit()

    gevent.signal_handler(signal.SIGTERM, lambda: gevent.spawn(quit_now))
    gevent.signal_handler(signal.SIGINT, lambda: gevent.spawn(quit_now))
    runner.greenlet.join()
    return 0


class LoadRun:
    """One load run in this process: local runner, or master of `expected_workers` worker processes."""

    def __init__(self, config: dict) -> None:
        self.config = config
        self.workdir = Path(config["workdir"])
        self.expected_workers = int(config.get("expected_workers") or 0)
        # Both set by run() before any greenlet that reads them starts.
        self.environment: Any = None
        self.runner: Any = None
        self.history: list[dict] = []
        self.load_started_at: float | None = None
        self.peak_users = 0
        self.peak_workers = 0
        self.started_monotonic = time.monotonic()
        self.outcome: str | None = None
        self.error: dict | None = None
        self.done = gevent.event.Event()

    def run(self) -> int:
        """Load the locustfile, drive the load to its end or a stop signal, and write every output file."""
        locustfile = self.config["locustfile"]
        if _stop_requested_early:
            self._write_json("result.json", {**self._empty_snapshot(), "outcome": "stopped", "error": None})
            return 0
        try:
            user_classes, shape_class = _load_user_classes(locustfile)
        except BaseException:  # user code may raise anything, SystemExit included
            self._write_json(
                "result.json",
                {
                    **self._empty_snapshot(),
                    "outcome": "error",
                    "error": {"code": "locustfile_error", "message": _user_code_error(locustfile)},
                },
            )
            return 2
        self.environment = Environment(
            user_classes=user_classes,
            shape_class=shape_class,
            host=self.config["host"],
            locustfile=locustfile,
            events=events,
        )
        # Workers started with `locust --worker -f -` (k8s) download the locustfile from this master: served with
        # the pins in front, so they resolve the target as this process does.
        served = _pinning().serve(locustfile, self.config.get("pins"), self.workdir / "served")
        self.environment.parsed_locustfiles = [served]
        if self.expected_workers:
            self.runner = self.environment.create_master_runner(
                master_bind_host=self.config.get("master_bind_host", "127.0.0.1"),
                master_bind_port=int(self.config["master_port"]),
            )
        else:
            self.runner = self.environment.create_local_runner()
        self.environment.events.init.fire(environment=self.environment, runner=self.runner, web_ui=None)
        # The signal may come from the caller's stop or from the parent-death signal: both keep partial results.
        gevent.signal_handler(signal.SIGTERM, lambda: gevent.spawn(self.finish, "stopped"))
        gevent.signal_handler(signal.SIGINT, lambda: gevent.spawn(self.finish, "stopped"))
        if _stop_requested_early:
            gevent.spawn(self.finish, "stopped")
        gevent.spawn(self._start_load)
        gevent.spawn(self._sample_loop)
        self.done.wait()
        return 0

    def _start_load(self) -> None:
        if self.expected_workers:
            deadline = time.monotonic() + float(self.config.get("worker_connect_timeout_s", 30))
            while self.runner.worker_count < self.expected_workers:
                if self.outcome is not None:
                    return
                if time.monotonic() > deadline:
                    message = f"only {self.runner.worker_count} of {self.expected_workers} Locust workers connected"
                    gevent.spawn(self.finish, "error", {"code": "workers_missing", "message": message})
                    return
                gevent.sleep(0.1)
        if self.outcome is not None:
            return
        self.load_started_at = time.monotonic()
        if self.environment.shape_class is not None:
            self.runner.start_shape()
        else:
            self.runner.start(int(self.config["user_count"]), float(self.config["spawn_rate"]))
        gevent.spawn_later(float(self.config["run_time_s"]), self.finish, "completed")

    def _sample_loop(self) -> None:
        abort_after_s = float(self.config.get("unreachable_abort_s", 0) or 0)
        self._write_json("live.json", self._snapshot(final=False))
        while self.outcome is None:
            gevent.sleep(SAMPLE_INTERVAL_S)
            if self.outcome is not None:
                return
            try:
                if self.load_started_at is not None and self.runner.state not in ("ready", "stopped"):
                    # Locust samples its chart history every 5 s; a short run would have empty charts.
                    locust_stats.update_stats_history(self.runner)
                    self.history.append(self._history_point())
                self._write_json("live.json", self._snapshot(final=False))
                if self.load_started_at is None:
                    continue
                running_for = time.monotonic() - self.load_started_at
                if self.runner.state == "stopped" and running_for > 1:
                    # A LoadTestShape that returned None, or every worker gone: Locust stopped by itself.
                    gevent.spawn(self.finish, "completed")
                    return
                if abort_after_s and running_for >= abort_after_s:
                    error = self._diagnose()
                    if error is not None and error["code"] in ("target_unreachable", "locustfile_error"):
                        gevent.spawn(self.finish, "error", error)
                        return
            except Exception:  # a failed sample must not end the run
                logger.exception("sampling stats failed")

    def finish(self, outcome: str, error: dict | None = None) -> None:
        """Stop the load once, then write stats, history, report and CSV from what was gathered."""
        if self.outcome is not None:
            return
        self.outcome = outcome
        (self.workdir / "ending").touch()  # tells the parent the results are being written (runner/process.py)
        try:
            if self.runner is not None:
                self._count_users()
                # MasterRunner.quit also waits 0.5 s for the workers' last stats report.
                self.runner.quit()
            if self.load_started_at is not None:
                locust_stats.update_stats_history(self.runner)
                self.history.append(self._history_point())
            if error is None and outcome == "completed":
                error = self._diagnose()
                if error is not None:
                    self.outcome = "error"
            self.error = error
            self._write_report_files()
            self._write_json("result.json", {**self._snapshot(final=True), "outcome": self.outcome, "error": error})
        except Exception:
            logger.exception("writing the results failed")
            self._write_json(
                "result.json",
                {
                    **self._empty_snapshot(),
                    "outcome": "error",
                    "error": {"code": "internal_error", "message": traceback.format_exc()[-2000:]},
                },
            )
        finally:
            self.done.set()

    def _diagnose(self) -> dict | None:
        """Name why the run could not measure the target, or None if it could."""
        total = self.runner.stats.total
        exceptions = list(self.runner.exceptions.values())
        if total.num_requests == 0 and exceptions:
            first = max(exceptions, key=lambda item: item["count"])
            return {"code": "locustfile_error", "message": f"the locustfile raised: {first['msg']}"}
        errors = list(self.runner.stats.errors.values())
        if total.num_requests and total.num_failures == total.num_requests and errors:
            messages = [locust_stats.StatsError.parse_error(error.error) for error in errors]
            if all(_UNREACHABLE_PATTERN.search(message) for message in messages):
                return {"code": "target_unreachable", "message": f"target unreachable: {messages[0]}"}
        if total.num_requests == 0 and self.load_started_at is not None:
            return {"code": "no_requests", "message": "the run made no requests"}
        return None

    def _write_report_files(self) -> None:
        (self.workdir / "report.html").write_text(get_html_report(self.environment), encoding="utf-8")
        writer = locust_stats.StatsCSV(self.environment, locust_stats.PERCENTILES_TO_REPORT)
        for name, write_table in (
            ("stats.csv", writer.requests_csv),
            ("failures.csv", writer.failures_csv),
            ("exceptions.csv", writer.exceptions_csv),
        ):
            with open(self.workdir / name, "w", newline="", encoding="utf-8") as handle:
                write_table(csv.writer(handle))

    def _state(self) -> str:
        if self.outcome is not None:
            return "stopped" if self.done.is_set() else "stopping"
        if self.load_started_at is None:
            return "starting"
        return "spawning" if self.runner.state == "spawning" else "running"

    def _elapsed_ms(self) -> int:
        started = self.load_started_at if self.load_started_at is not None else self.started_monotonic
        return int((time.monotonic() - started) * 1000)

    def _empty_snapshot(self) -> dict:
        empty = _entry_dict(
            locust_stats.StatsEntry(locust_stats.RequestStats(), "Aggregated", ""), final=True, named=False
        )
        stats = {"total": empty, "endpoints": [], "errors": []}
        zero = {"elapsed_ms": 0, "users": 0, "worker_count": 0}
        return {"state": "stopped", **zero, "stats": stats, "history": [], "exceptions": []}

    def _snapshot(self, *, final: bool) -> dict:
        stats = self.runner.stats
        endpoints = [_entry_dict(entry, final=final) for entry in locust_stats.sort_stats(stats.entries)]
        errors = [
            {
                "name": error.name,
                "method": error.method,
                "message": locust_stats.StatsError.parse_error(error.error),
                "count": error.occurrences,
            }
            for error in locust_stats.sort_stats(stats.errors)
        ]
        exceptions = [
            {"message": item["msg"], "count": item["count"], "traceback": item["traceback"]}
            for item in self.runner.exceptions.values()
        ]
        return {
            "state": "stopped" if final else self._state(),
            "elapsed_ms": self._elapsed_ms(),
            # After the end every user is gone; the peak says how big the run was.
            "users": self.peak_users if final else self._count_users(),
            "worker_count": self._count_workers(final),
            "stats": {
                "total": _entry_dict(stats.total, final=final, named=False),
                "endpoints": endpoints,
                "errors": errors,
            },
            "history": self.history,
            "exceptions": exceptions,
        }

    def _count_workers(self, final: bool) -> int:
        # Workers may disconnect as the run ends; the final figure is how many took part.
        if not self.expected_workers:
            return 1
        self.peak_workers = max(self.peak_workers, self.runner.worker_count)
        return self.peak_workers if final else self.runner.worker_count

    def _count_users(self) -> int:
        users = self.runner.user_count
        self.peak_users = max(self.peak_users, users)
        return users

    def _history_point(self) -> dict:
        total = self.runner.stats.total
        return {
            "t": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "users": self._count_users(),
            "rps": round(_rps(total, final=False), 2),
            "failures_per_s": round(total.current_fail_per_sec or 0.0, 2),
            "p50_ms": _current_percentile(total, 0.5),
            "p95_ms": _current_percentile(total, 0.95),
        }

    def _write_json(self, name: str, payload: dict) -> None:
        # Write then rename, so the parent never reads a half-written file.
        temporary = self.workdir / f".{name}.tmp"
        temporary.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(temporary, self.workdir / name)


def _rps(entry, *, final: bool) -> float:
    # Locust's current_rps ignores the last 2 s, so it reads 0 early in a run; fall back to the run average.
    return float((entry.total_rps if final else entry.current_rps or entry.total_rps) or 0.0)


def _current_percentile(entry, percent: float) -> float:
    current = None
    if entry.use_response_times_cache and entry.response_times_cache:
        current = entry.get_current_response_time_percentile(percent)
    return float(current if current else entry.get_response_time_percentile(percent) or 0)


def _entry_dict(entry, *, final: bool, named: bool = True) -> dict:
    min_ms, max_ms = round(entry.min_response_time or 0, 2), round(entry.max_response_time or 0, 2)

    def percentile(percent: float) -> float:
        # Locust's histogram rounds (a 0.3 ms response counts as 0): keep percentiles within [min, max].
        value = float(entry.get_response_time_percentile(percent) or 0)
        return min(max(value, min_ms), max_ms) if entry.num_requests else 0.0

    names = {"name": entry.name, "method": entry.method or ""} if named else {}
    return names | {
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": round(_rps(entry, final=final), 2),
        "avg_ms": round(entry.avg_response_time, 2),
        "min_ms": min_ms,
        "max_ms": max_ms,
        "p50_ms": percentile(0.5),
        "p95_ms": percentile(0.95),
        "p99_ms": percentile(0.99),
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
