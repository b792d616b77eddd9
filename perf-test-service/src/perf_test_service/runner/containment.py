"""Every process a run's locustfile starts stays the run's: held in a namespace, marked, adopted, killed with the run.

Four holds, because a locustfile is arbitrary Python and may fork, daemonise (double fork + setsid) or exec:
- where Linux allows it, each Locust process is the init of its own PID namespace (``namespaces``): when it ends,
  or when the thread that started it dies (a SIGKILLed worker), the kernel kills every process in it, including
  one that daemonised and cleared its environment. Where it does not (Docker's default seccomp profile), the
  three holds below apply alone, and they apply in a namespace too;
- the Locust processes are one process group, killed as a whole (``process``);
- each carries a marker in its environment (``TESTFLEET_PERF_RUN``: owner pid, owner start time, workdir),
  inherited by whatever it forks or execs, found in /proc even after setsid;
- the process running the run is a child subreaper (PR_SET_CHILD_SUBREAPER): an orphaned descendant is
  re-parented to it, not to init, so even one that left the group and cleared its environment is still its
  child while it lives, and is killed at the end of the run (in a namespace the namespace's init adopts it).
A run whose owner died (a SIGKILLed worker) is found by its marker and killed by the next worker to start
(``sweep_orphaned_runs``). Without namespaces, what escapes: a process that daemonises, clears its environment
and outlives its owner (the subreaper) before the run ends; only a container's own namespace holds that then.

Everything here runs in the worker and reads the host's /proc, with host pids (owners, markers, kills): a
namespace's own /proc is mounted only inside it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from pathlib import Path

import psutil

log = logging.getLogger(__name__)
MARKER = "TESTFLEET_PERF_RUN"
_PR_SET_CHILD_SUBREAPER = 36
_KILL_WAIT_S = 5.0


def become_subreaper() -> bool:
    """Adopt this process's orphaned descendants (Linux only); return whether that took effect."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def run_marker(workdir: str | os.PathLike) -> str:
    """The marker value of a run executed by this process in workdir: `pid:start time:workdir`."""
    return f"{os.getpid()}:{psutil.Process().create_time():.2f}:{Path(workdir).resolve()}"


def children_now() -> set[int]:
    """The pids of this process's direct children (before a run: what is not the run's)."""
    return {child.pid for child in psutil.Process().children()}


def end_run(marker: str, known_children: set[int]) -> int:
    """SIGKILL what is left of the run: processes carrying its marker and orphans adopted since known_children.

    Adopted orphans are this process's children: they are reaped here. Returns how many were killed.
    """
    me = os.getpid()
    doomed = {process.pid: process for process in _carrying(lambda value: value == marker)}
    adopted = [child for child in psutil.Process().children() if child.pid not in known_children]
    doomed |= {child.pid: child for child in adopted}
    doomed.pop(me, None)
    _kill(list(doomed.values()))
    for child in adopted:  # ours to reap; a Popen-managed child was waited for before this is called
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(child.pid, os.WNOHANG)
    return len(doomed)


def kill_marked(marker: str) -> int:
    """SIGKILL every process carrying marker (a check's or run's leftovers that left its group); return how many."""
    doomed = _carrying(lambda value: value == marker)
    _kill(doomed)
    return len(doomed)


def sweep_orphaned_runs() -> int:
    """Kill the processes of runs whose owning process is gone (a killed worker); return how many."""

    def owner_dead(value: str) -> bool:
        pid, _, rest = value.partition(":")
        started = rest.partition(":")[0]
        try:
            owner = psutil.Process(int(pid))
            # A zombie owner is dead too (its parent has not reaped it yet); a new one with its pid is not it.
            return owner.status() == psutil.STATUS_ZOMBIE or abs(owner.create_time() - float(started)) > 0.05
        except (psutil.NoSuchProcess, ValueError):
            return True
        except psutil.Error:
            return False

    orphans = _carrying(owner_dead)
    _kill(orphans)
    if orphans:
        log.warning("killed %d Locust processes left by a run whose worker died", len(orphans))
    return len(orphans)


def _carrying(select) -> list[psutil.Process]:
    """Live processes (never this one) whose environment carries a run marker that select accepts."""
    found = []
    for process in psutil.process_iter(["pid"]):
        if process.pid == os.getpid():
            continue
        try:
            value = process.environ().get(MARKER)
            if value and select(value) and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:  # gone, or another user's (not ours to judge)
            continue
    return found


def _kill(processes: list[psutil.Process]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + _KILL_WAIT_S
    for process in processes:
        with contextlib.suppress(psutil.Error):
            # Not necessarily our child: wait by polling its state, bounded.
            while process.is_running() and process.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
                time.sleep(0.02)
