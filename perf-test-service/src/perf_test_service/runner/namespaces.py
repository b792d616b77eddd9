"""Linux namespaces around the processes that run a locustfile: a PID namespace for a run's Locust processes and
for the save-time check, and for the check a network namespace too (only a loopback, down).

``unshare --pid --fork --kill-child`` forks the command as the init (pid 1) of a new PID namespace, with a
parent-death SIGKILL bound to unshare; unshare is started through runner/confine.py, which gives it a parent-death
SIGKILL bound to the thread that spawned it. So when that process dies, even by SIGKILL, unshare dies, the
namespace's init dies, and the kernel kills every process left in the namespace: forked, daemonised with setsid,
with its environment cleared or not. The init's own end (the master's, a worker's, the check's) does the same.
``--mount-proc`` gives the namespace its own /proc: the code inside sees its own processes (Locust's
``psutil.Process()`` is itself, not the host's pid 1) and none of the host's.

The platform's code stays outside and uses the host's view: the pid of the unshare process (the Popen), the host
pid of the command it runs (``inner_pid``), the host's /proc for markers and sweeps (runner/containment.py).
Where namespaces cannot be made (a container under Docker's default seccomp profile, no util-linux), ``prefix``
returns [] and logs that once; the holds of runner/containment.py then apply alone (docs/security.md).
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import time

import psutil

log = logging.getLogger(__name__)
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
TRUE = shutil.which("true") or "/bin/true"
_PID = ("--pid", "--fork", "--kill-child", "--mount-proc")
# Least privilege first: root needs no user namespace; any other user maps only itself (no capability survives
# the exec of the command); --map-root-user is for a util-linux without --map-current-user (before 2.38).
_USERS: tuple[tuple[str, ...], ...] = ((), ("--user", "--map-current-user"), ("--user", "--map-root-user"))
_PROBE_TIMEOUT_S = 10.0
_INNER_WAIT_S = 2.0


def prefix(*, network: bool = False) -> list[str]:
    """The `unshare ... --` words that run a command in new namespaces (network: no network either), or []."""
    return list(_working_prefix(network))


@functools.cache
def _working_prefix(network: bool) -> tuple[str, ...]:
    kinds = (*_PID, "--net") if network else _PID
    for users in _USERS:
        command = (UNSHARE, *users, *kinds, "--")
        if _works(command):
            return command
    what = "PID and network" if network else "PID"
    log.warning("cannot create %s namespaces here (%s); the process group, marker and subreaper hold alone "
                "(docs/security.md)", what, " ".join(kinds))  # fmt: skip
    return ()


def _works(command: tuple[str, ...]) -> bool:
    try:
        probe = subprocess.run(
            [*command, TRUE],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def inner_pid(process: subprocess.Popen) -> int:
    """The host pid of the command a process started with `prefix` runs (unshare's only child), to signal it.

    unshare blocks SIGTERM and does not pass it on. A process started without namespaces, or one that ended or
    did not fork its command within 2 s, is its own answer.
    """
    if UNSHARE not in (process.args if isinstance(process.args, list) else []):
        return process.pid
    deadline = time.monotonic() + _INNER_WAIT_S
    while process.poll() is None and time.monotonic() < deadline:
        try:
            children = psutil.Process(process.pid).children()
        except psutil.Error:
            break
        if children:
            return children[0].pid
        time.sleep(0.01)  # bounded: between confine's exec of unshare and unshare's fork
    return process.pid
