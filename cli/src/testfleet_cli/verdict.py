"""Exit codes: what a pipeline reads from `testfleet`, the same for every command that waits."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    PASSED = 0
    FAILED = 1  # an assertion or a threshold did not hold
    USAGE = 2  # usage, configuration or authentication error: nothing was run
    ERROR = 3  # the test could not run (bad locator, unreachable target, worker lost)
    STOPPED = 4  # stopped by someone
    RUNNING = 5  # still running when --timeout expired, or --detach
    INTERRUPTED = 130  # Ctrl-C


# Several runs: the most severe wins, 3 > 1 > 4 > 5 > 0.
SEVERITY = (ExitCode.ERROR, ExitCode.FAILED, ExitCode.STOPPED, ExitCode.RUNNING, ExitCode.PASSED)

BY_STATE = {
    "passed": ExitCode.PASSED,
    "failed": ExitCode.FAILED,
    "error": ExitCode.ERROR,
    "stopped": ExitCode.STOPPED,
    "queued": ExitCode.RUNNING,
    "running": ExitCode.RUNNING,
}

HELP = """\b
Exit codes (every command that waits for runs):
  0  passed
  1  failed: an assertion or a threshold did not hold
  2  usage, configuration or authentication error
  3  error: the test could not run (bad locator, unreachable target, worker lost)
  4  stopped by someone
  5  still running when --timeout expired (or --detach)
  130 interrupted (Ctrl-C: the first stops the remote runs and waits up to 30 s, a second leaves at once)
Several runs: the most severe of 3 > 1 > 4 > 5 > 0."""


def of_state(state: str | None) -> ExitCode:
    """The exit code of one run in this state (an unknown or missing state could not run: 3)."""
    return BY_STATE.get(state or "", ExitCode.ERROR)


def worst(codes: Iterable[ExitCode]) -> ExitCode:
    """The most severe of several runs' codes (none: passed)."""
    found = set(codes)
    return next((code for code in SEVERITY if code in found), ExitCode.PASSED)
