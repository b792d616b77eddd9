"""Results of a run: the step and run states, StepResult, RunResult and how steps are recorded into it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from shared.runs.states import RunState
from web_test_service.runner.control_flow import command_name

PASSED, FAILED, ERROR, STOPPED = RunState.passed, RunState.failed, RunState.error, RunState.stopped
SKIPPED = "skipped"  # a step's state only: the command was marked skip


@dataclass
class StepResult:
    """One executed command (loops report the same index once per pass)."""

    index: int
    command: str
    target: str
    value: str
    state: str  # passed | failed | error | skipped
    duration_ms: int
    message: str | None = None
    screenshot: bytes | None = None  # PNG, taken when the step failed or errored

    @classmethod
    def of(
        cls,
        index: int,
        command: dict,
        state: str,
        duration_ms: int,
        message: str | None = None,
        screenshot: bytes | None = None,
    ) -> StepResult:
        """The result of one command dict (target and value as written, before ${var} substitution)."""
        return cls(
            index=index,
            command=command_name(command),
            target=str(command.get("target") or ""),
            value=str(command.get("value") or ""),
            state=state,
            duration_ms=duration_ms,
            message=message,
            screenshot=screenshot,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the PNG itself is left out (store it as an artifact)."""
        return {
            "index": self.index,
            "command": self.command,
            "target": self.target,
            "value": self.value,
            "state": self.state,
            "duration_ms": self.duration_ms,
            "message": self.message,
            "has_screenshot": self.screenshot is not None,
        }


@dataclass
class RunResult:
    """Verdict and evidence of one run."""

    state: str  # passed | failed | error | stopped
    steps: list[StepResult] = field(default_factory=list)
    message: str | None = None  # why the run did not pass
    failed_step: int | None = None  # index of the first failed/error step
    duration_ms: int = 0
    console_log: list[dict[str, Any]] = field(default_factory=list)
    echo_log: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    # True when the browser or the grid broke, not the script: the caller may retry the run.
    infrastructure_error: bool = False
    error_code: str | None = None  # set when more precise than the state: target_blocked, command_failed
    final_screenshot: bytes | None = None  # PNG of the page a failed or errored run ended on

    def record(self, step: StepResult) -> None:
        """Append a step; the first failed or errored one becomes failed_step."""
        self.steps.append(step)
        if step.state in (FAILED, ERROR) and self.failed_step is None:
            self.failed_step = step.index

    def finish(self, state: str, message: str | None, started: float) -> RunResult:
        """Set the verdict and the duration since `started` (a time.monotonic() value)."""
        self.state, self.message = state, message
        self.duration_ms = elapsed_ms(started)
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the result (screenshots left out)."""
        return {
            "state": self.state,
            "message": self.message,
            "failed_step": self.failed_step,
            "duration_ms": self.duration_ms,
            "steps": [step.to_dict() for step in self.steps],
            "console_log": self.console_log,
            "echo_log": self.echo_log,
            "variables": self.variables,
            "infrastructure_error": self.infrastructure_error,
            "error_code": self.error_code,
        }


def elapsed_ms(since: float) -> int:
    """Milliseconds since a time.monotonic() value."""
    return round((time.monotonic() - since) * 1000)
