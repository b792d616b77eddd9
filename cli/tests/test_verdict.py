"""Exit codes: one run's state, and several runs' most severe code."""

import pytest

from testfleet_cli.verdict import ExitCode, of_state, worst


@pytest.mark.parametrize(
    ("state", "code"),
    [("passed", 0), ("failed", 1), ("error", 3), ("stopped", 4), ("queued", 5), ("running", 5), (None, 3), ("?", 3)],
)
def test_a_state_has_one_exit_code(state, code):
    assert of_state(state) == code


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([], ExitCode.PASSED),
        ([ExitCode.PASSED, ExitCode.PASSED], ExitCode.PASSED),
        ([ExitCode.PASSED, ExitCode.RUNNING], ExitCode.RUNNING),
        ([ExitCode.RUNNING, ExitCode.STOPPED], ExitCode.STOPPED),
        ([ExitCode.STOPPED, ExitCode.FAILED, ExitCode.RUNNING], ExitCode.FAILED),
        ([ExitCode.FAILED, ExitCode.ERROR, ExitCode.PASSED], ExitCode.ERROR),
    ],
)
def test_several_runs_take_the_most_severe_code(codes, expected):
    assert worst(codes) == expected
