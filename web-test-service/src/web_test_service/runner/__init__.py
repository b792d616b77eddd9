"""Run one Selenium IDE script in a browser and report each step as it happens (no Flask, no Celery)."""

# The public face of the package: run_script (engine.py) and its results (results.py). Commands live
# in commands/ by family, the browser in driver.py, save-time checks in validation.py.

from __future__ import annotations

from web_test_service.runner.commands import SUPPORTED_COMMANDS
from web_test_service.runner.engine import run_script
from web_test_service.runner.results import ERROR, FAILED, PASSED, SKIPPED, STOPPED, RunResult, StepResult

__all__ = [
    "ERROR",
    "FAILED",
    "PASSED",
    "SKIPPED",
    "STOPPED",
    "SUPPORTED_COMMANDS",
    "RunResult",
    "StepResult",
    "run_script",
]
