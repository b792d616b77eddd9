"""Screenshots of the run's page: a failed step's, and the page a failing run ended on."""

from __future__ import annotations

from typing import Any

from web_test_service.runner.context import RunContext
from web_test_service.runner.results import ERROR, FAILED


def page_png(driver: Any) -> bytes | None:
    """PNG of the current window, or None when there is none to take (a dialog is open, the window closed)."""
    try:
        return driver.get_screenshot_as_png()
    except Exception:  # a screenshot is evidence, not a reason to fail the run
        return None


def final_screenshot(ctx: RunContext, state: str) -> bytes | None:
    """PNG of the page a failed or errored run ended on, taken after the policy guard's last look; else None.

    As for a failed step's screenshot, the guard looks first: what the page reached for since the verdict
    is judged before anything is captured. If it finds a refusal, the page was on its way to a refused target
    as the run ended, and no final screenshot is taken (the verdict, the steps' screenshots and the console log
    stand). A passing or stopped run gets none, so a pass costs nothing.
    """
    if state not in (FAILED, ERROR):
        return None
    try:
        refused = ctx.guard.violation() is not None
    except Exception:  # evidence only: when the guard cannot look, nothing is captured and the verdict stands
        return None
    return None if refused else page_png(ctx.driver)
