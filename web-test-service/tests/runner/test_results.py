"""StepResult and RunResult: recording steps, the verdict and their JSON form."""

from __future__ import annotations

import time

from web_test_service.runner import ERROR, FAILED, PASSED, RunResult, StepResult


def test_a_step_result_keeps_the_command_as_written():
    step = StepResult.of(3, {"command": " type ", "target": "id=${field}", "value": 5}, PASSED, 12)
    assert (step.index, step.command, step.target, step.value, step.state) == (3, "type", "id=${field}", "5", PASSED)
    assert step.to_dict() == {
        "index": 3,
        "command": "type",
        "target": "id=${field}",
        "value": "5",
        "state": PASSED,
        "duration_ms": 12,
        "message": None,
        "has_screenshot": False,
    }


def test_the_first_failed_or_errored_step_is_the_failed_step():
    result = RunResult(state=PASSED)
    result.record(StepResult.of(0, {"command": "echo"}, PASSED, 1))
    result.record(StepResult.of(1, {"command": "verifyTitle"}, FAILED, 1, "differs", b"png"))
    result.record(StepResult.of(2, {"command": "click"}, ERROR, 1, "broken"))
    assert result.failed_step == 1 and len(result.steps) == 3
    assert result.to_dict()["steps"][1]["has_screenshot"] is True


def test_finish_sets_the_verdict_and_the_duration():
    result = RunResult(state=PASSED).finish(FAILED, "differs", time.monotonic() - 0.05)
    assert (result.state, result.message) == (FAILED, "differs")
    assert 50 <= result.duration_ms < 1000
    assert set(result.to_dict()) == {
        "state",
        "message",
        "failed_step",
        "duration_ms",
        "steps",
        "console_log",
        "echo_log",
        "variables",
        "infrastructure_error",
        "error_code",
    }
