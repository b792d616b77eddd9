"""Execute one queued web run to its verdict: the plain function behind the Celery task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis
from sqlalchemy.orm import object_session, sessionmaker

from shared.runs.states import RunState
from shared.runs.worker import LOCK_WAIT_S, Attempt, Outcome, Refuse, run_attempt
from web_test_service.models import FINAL_SCREENSHOT, RUNS, Run, Screenshot, Script, Step
from web_test_service.project_runs import stopping
from web_test_service.runner import RunResult, StepResult, run_script
from web_test_service.runner.driver import BrowserStartError
from web_test_service.service import resolve_in_project

# The run's verdict as the error code clients see, unless the runner names a more precise one (verdict_error).
ERROR_CODES = {RunState.failed: "assertion_failed", RunState.error: "run_error", RunState.stopped: "stopped"}


class BrowserUnavailable(Exception):
    """The browser could not start: the task retries the run with backoff."""


@dataclass
class ClaimedScript:
    """What a web run needs once claimed: the script as it was at the start, and the run's overrides."""

    script: dict[str, Any]
    base_url: str | None
    variables: dict[str, Any]
    resolve_test: Callable[[str], list[dict] | None]


def execute_run(
    run_id: str,
    *,
    sessions: sessionmaker,
    redis: Redis,
    driver_factory: Callable,
    is_last_attempt: bool = True,
    lock_wait_s: float = LOCK_WAIT_S,
    with_verdict: Callable[[str, dict | None], tuple] | None = None,
) -> Outcome:
    """Execute a queued run once; record each step as it happens and the verdict at the end.

    with_verdict(state, error) gives rows to save in the verdict's transaction (a project run's next attempt).
    """

    def finish(attempt: Attempt, state: str, error: dict | None, rows: tuple = (), **values: Any) -> Outcome:
        rows += with_verdict(state, error) if with_verdict is not None else ()
        return attempt.finish(state, error, rows=rows, **values)

    def prepare(run: Run, script: Script) -> ClaimedScript:
        if run.project_run_id and stopping(object_session(run), run.project_run_id):
            raise Refuse(RunState.stopped)  # a retry inserted while the project run was being stopped
        run.progress_current = 0
        # A project run's test has its suite's timeout (time_limit_s); a script run its own.
        timeout_ms = run.time_limit_s * 1000 if run.project_run_id else script.timeout_ms
        script_data = {"commands": script.commands, "timeout_ms": timeout_ms, "name": script.name}
        resolve = resolve_in_project(sessions=sessions, owner=script.owner, project_id=script.project_id)
        return ClaimedScript(script_data, run.base_url or None, dict(run.variables or {}), resolve)

    with run_attempt(RUNS, run_id, sessions=sessions, redis=redis, prepare=prepare, lock_wait_s=lock_wait_s) as attempt:
        if attempt.refused or attempt.claimed is None:
            return attempt.outcome or Outcome("skipped")
        claimed = attempt.claimed
        try:
            result = run_script(
                claimed.script,
                driver_factory,
                base_url=claimed.base_url,
                variables=claimed.variables,
                on_step=StepRecorder(attempt),
                should_stop=attempt.should_stop,
                timeout_ms=claimed.script["timeout_ms"],
                resolve_test=claimed.resolve_test,
            )
        except BrowserStartError as exc:
            # Infrastructure, not the script: the task retries with backoff, then gives up.
            if not is_last_attempt:
                attempt.requeue()
                raise BrowserUnavailable(str(exc)) from exc
            return finish(attempt, RunState.error, {"code": "browser_unavailable", "message": str(exc)})
        return finish(
            attempt, result.state, verdict_error(result), rows=final_rows(run_id, result), result=result_record(result)
        )
    return attempt.outcome or Outcome("skipped")  # settled by the crash guard (a stop that interrupted the task)


class StepRecorder:
    """on_step callback: one committed row per step (with its screenshot), so /status shows it at once."""

    def __init__(self, attempt: Attempt):
        self.attempt, self.seq = attempt, 0

    def __call__(self, step: StepResult) -> None:
        run_id, seq = self.attempt.run_id, self.seq
        rows: list[Any] = [
            Step(
                run_id=run_id,
                seq=seq,
                index=step.index,
                command=step.command,
                target=step.target,
                value=step.value,
                state=step.state,
                duration_ms=step.duration_ms,
                error=step.message,
                has_screenshot=step.screenshot is not None,
            )
        ]
        if step.screenshot is not None:
            rows.append(Screenshot(run_id=run_id, seq=seq, png=step.screenshot))
        self.attempt.record(*rows, progress_current=step.index + 1)
        self.seq += 1


def final_rows(run_id: str, result: RunResult) -> tuple[Screenshot, ...]:
    """What is saved with the verdict: the final screenshot of a failing run, if it has one."""
    if result.final_screenshot is None:
        return ()
    return (Screenshot(run_id=run_id, kind=FINAL_SCREENSHOT, png=result.final_screenshot),)


def verdict_error(result: RunResult) -> dict[str, str] | None:
    if result.state == RunState.passed or not result.message:
        return None
    # target_blocked: a request the run made was refused by WEB_ALLOWED_HOSTS (runner/policy.py); command_failed: an
    # action (click, type, storeText...) found no element or could not use it (runner/outcomes.py).
    code = result.error_code or ERROR_CODES.get(RunState(result.state), "run_error")
    return {"code": code, "message": result.message}


def result_record(result: RunResult) -> dict[str, Any]:
    """What the run row keeps of the runner's result (logs capped)."""
    return {
        "message": result.message,
        "failed_step": result.failed_step,
        "runner_duration_ms": result.duration_ms,
        "console_log": result.console_log[-500:],
        "echo_log": result.echo_log[-500:],
        "variables": result.variables,
    }
