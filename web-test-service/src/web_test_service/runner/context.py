"""State one run's commands share: driver, variables, waits with stop/deadline checks, dialogs."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    InvalidElementStateException,
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from web_test_service.runner.errors import ScriptTimeout, StepFailure, StopRequested
from web_test_service.runner.locators import LocatorError, parse_locator
from web_test_service.runner.policy import PolicyGuard

T = TypeVar("T")

DEFAULT_IMPLICIT_WAIT_MS = 15_000
# Short enough that a stop takes effect well within a second, long enough not to hammer chromedriver.
POLL_INTERVAL_S = 0.05

# Errors that mean "the element is not ready yet": Selenium IDE retries these until the implicit wait.
RETRYABLE_ERRORS = (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    InvalidElementStateException,
    NoSuchElementException,
    StaleElementReferenceException,
)


@dataclass
class DialogState:
    """Dialogs seen by the run, mirroring Selenium IDE's override of alert/confirm/prompt."""

    # Answer armed by an accept/dismiss/answer command that ran before its dialog opened.
    armed_accept: bool = True
    armed_answer: str | None = None
    # Texts of dialogs closed automatically, waiting for an assertAlert/Confirmation/Prompt.
    unasserted_texts: deque[str] = field(default_factory=deque)


@dataclass
class RunContext:
    """Everything a command handler may touch during one run."""

    driver: WebDriver
    base_url: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    implicit_wait_ms: int = DEFAULT_IMPLICIT_WAIT_MS
    should_stop: Callable[[], bool] = lambda: False
    deadline: float | None = None  # time.monotonic() value
    timeout_ms: int | None = None
    run_sub_test: Callable[[str], None] | None = None
    log: list[str] = field(default_factory=list)
    dialogs: DialogState = field(default_factory=DialogState)
    # What the browser's proxy and Chromium refused (runner/policy.py); a driver-less one finds nothing.
    guard: PolicyGuard = field(default_factory=lambda: PolicyGuard(None, None))
    # Set by the engine's watchdog when it kills the browser: from then on nothing may ask the browser anything
    # (a Grid does not answer a command to the session it is ending: the run would hang until Celery's limit).
    browser_killed: bool = False

    def check(self) -> None:
        """Raise StopRequested or ScriptTimeout if the run must end now."""
        ending = self.ending()
        if ending is not None:
            raise ending

    def ending(self) -> StopRequested | ScriptTimeout | None:
        """Why the run must end now (a stop request, then the deadline), or None."""
        if self.should_stop():
            return StopRequested("Stopped on request")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return ScriptTimeout(f"Script timed out after {self.timeout_ms} ms")
        return None

    def remaining_s(self) -> float | None:
        """Seconds until the script's deadline (None when there is none)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def pause(self, milliseconds: float) -> None:
        """Wait, still honouring stop requests and the deadline."""
        end = time.monotonic() + milliseconds / 1000
        while True:
            self.check()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL_INTERVAL_S * 4, left))

    def wait_until(self, probe: Callable[[], T | None], timeout_ms: float, describe: Callable[[], str]) -> T:
        """Call probe until it returns something truthy or timeout_ms passes (then StepFailure)."""
        end = time.monotonic() + max(timeout_ms, 0) / 1000
        while True:
            self.check()
            try:
                result = probe()
            except StaleElementReferenceException:
                result = None
            if result:
                return result
            if time.monotonic() >= end:
                raise StepFailure(describe())
            time.sleep(POLL_INTERVAL_S)

    def retry(self, action: Callable[[], T], timeout_ms: float | None = None) -> T:
        """Run action, retrying 'not ready yet' errors until the implicit wait runs out."""
        end = time.monotonic() + (self.implicit_wait_ms if timeout_ms is None else timeout_ms) / 1000
        while True:
            self.check()
            try:
                return action()
            except RETRYABLE_ERRORS as error:
                if time.monotonic() >= end:
                    raise StepFailure(selenium_message(error)) from error
            time.sleep(POLL_INTERVAL_S)

    def find_all(self, locator: str) -> list[WebElement]:
        """Find every element matching the locator now, without waiting."""
        by, value = parse_locator(locator)
        return self.driver.find_elements(by, value)

    def find(self, locator: str, fallbacks: Sequence[str] = (), timeout_ms: float | None = None) -> WebElement:
        """Wait up to the implicit wait for the locator, or a fallback locator, to match an element."""
        candidates = [parse_locator(locator)]
        for fallback in fallbacks:
            try:
                parsed = parse_locator(fallback)
            except LocatorError:
                continue  # a broken recorded fallback must not hide a working primary locator
            if parsed not in candidates:
                candidates.append(parsed)

        def probe() -> WebElement | None:
            for by, value in candidates:
                elements = self.driver.find_elements(by, value)
                if elements:
                    return elements[0]
            return None

        timeout = self.implicit_wait_ms if timeout_ms is None else timeout_ms
        return self.wait_until(probe, timeout, lambda: f"Element {locator} not found")

    def open_alert_text(self) -> str | None:
        """Text of the dialog open right now, or None."""
        try:
            return self.driver.switch_to.alert.text
        except NoAlertPresentException:
            return None

    def close_open_dialog(self) -> str | None:
        """Answer an open dialog as armed (accept by default) and remember its text for asserts."""
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
        except NoAlertPresentException:
            return None
        if self.dialogs.armed_accept:
            if self.dialogs.armed_answer is not None:
                alert.send_keys(self.dialogs.armed_answer)
            alert.accept()
        else:
            alert.dismiss()
        self.dialogs.armed_accept, self.dialogs.armed_answer = True, None
        self.dialogs.unasserted_texts.append(text)
        return text


def selenium_message(error: Exception) -> str:
    """The first line of a Selenium error, without the stack trace chromedriver appends."""
    message = getattr(error, "msg", None) or str(error) or type(error).__name__
    return message.strip().splitlines()[0]
