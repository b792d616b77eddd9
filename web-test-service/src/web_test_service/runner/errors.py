"""Exceptions that decide how a failing step affects the run's verdict."""

from __future__ import annotations


class StepFailure(Exception):
    """The page is not as the step expects: a check (assert*, waitFor*) fails the run; any other command errs it."""


class VerificationFailure(StepFailure):
    """A verify* mismatch: the step fails but the run goes on (soft failure)."""


class ScriptError(Exception):
    """The script itself is broken (unknown locator, bad argument): the run ends in error."""


class SubTestFailure(Exception):
    """A command of a `run` sub-test failed or erred: the `run` step ends as that command did (its state and code)."""

    def __init__(self, state: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.state = state
        self.code = code


class StopRequested(Exception):
    """should_stop() returned true: the run ends as stopped."""


class ScriptTimeout(Exception):
    """The script's overall deadline passed: the run ends in error."""


class RunEnded(Exception):
    """A step decided the verdict of the whole run (raised and caught inside the engine)."""

    def __init__(self, state: str, message: str, infrastructure: bool = False, code: str | None = None) -> None:
        super().__init__(message)
        self.state = state
        self.message = message
        self.infrastructure = infrastructure
        self.code = code  # the run's error code when it is not the state's (target_blocked, command_failed)
