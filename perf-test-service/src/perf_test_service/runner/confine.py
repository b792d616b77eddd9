"""Resource limits for a process that runs user code: `python -P confine.py LIMITS parent=PID -- COMMAND...` sets
them, then execs COMMAND, which keeps them (and so does every process it forks).

``parent=PID`` also gives it a parent-death SIGKILL (PR_SET_PDEATHSIG, which survives the exec): COMMAND is killed
when the thread that started it ends, with its process (a SIGKILLed worker or API), and at once if PID is already
gone by then. runner/namespaces.py relies on it: COMMAND is unshare, whose death takes its namespaces down.

A wrapper rather than subprocess's ``preexec_fn``: the perf API runs threaded under gunicorn, where preexec_fn
may deadlock. It runs by path and imports only the standard library.

The limits are hard limits: an unprivileged process cannot raise them again. A process running as root keeps
CAP_SYS_RESOURCE and could (docs/security.md); RLIMIT_NPROC does not bind root at all.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

CONFINE_PATH = Path(__file__)
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Limits:
    """CPU seconds, address space, largest file written and processes of the user (0 = leave as is)."""

    cpu_s: int = 0
    memory_bytes: int = 0
    file_bytes: int = 0
    processes: int = 0

    def arguments(self) -> list[str]:
        return [f"cpu={self.cpu_s}", f"as={self.memory_bytes}", f"fsize={self.file_bytes}", f"nproc={self.processes}"]


_RESOURCES = {
    "cpu": resource.RLIMIT_CPU,
    "as": resource.RLIMIT_AS,
    "fsize": resource.RLIMIT_FSIZE,
    "nproc": resource.RLIMIT_NPROC,
}


def confined(command: list[str], limits: Limits) -> list[str]:
    """The command line that runs command under limits, SIGKILLed when the calling thread or its process ends."""
    return [sys.executable, "-P", str(CONFINE_PATH), *limits.arguments(), f"parent={os.getpid()}", "--", *command]


def apply(arguments: list[str]) -> None:
    """Set each `name=value` limit (soft and hard) on this process; 0 leaves that one alone."""
    for argument in arguments:
        name, _, value = argument.partition("=")
        amount = int(value)
        if not amount:
            continue
        if name == "nproc":
            # RLIMIT_NPROC counts every process of this user, the platform's own included: allow that many more.
            amount += _processes_of_this_user()
        # CPU: SIGXCPU at the soft limit (reported as such), SIGKILL a second later if the code ignores it.
        resource.setrlimit(_RESOURCES[name], (amount, amount + 1 if name == "cpu" else amount))


def die_with(parent: int) -> None:
    """Get SIGKILL when the thread that started this process ends; end now if parent is no longer that parent."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died before prctl took effect: this process was re-parented and would never get it.
    if os.getppid() != parent:
        os._exit(128 + signal.SIGKILL)


def _processes_of_this_user() -> int:
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def main(argv: list[str]) -> int:
    """Apply the limits before `--`, then exec what follows."""
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: confine.py cpu=N as=N fsize=N nproc=N [parent=PID] -- COMMAND...", file=sys.stderr)
        return 64
    split = argv.index("--")
    limits = [argument for argument in argv[:split] if not argument.startswith("parent=")]
    apply(limits)
    for argument in argv[:split]:
        if argument.startswith("parent="):
            die_with(int(argument.partition("=")[2]))
    command = argv[split + 1 :]
    os.execv(command[0], command)  # noqa: S606 (the command is ours: the check or Locust entry)
    return 127  # not reached: execv replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
