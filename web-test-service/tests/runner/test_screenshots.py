"""The final screenshot of a failing run, on a fake WebDriver: when it is taken, and never past a refusal."""

from __future__ import annotations

import pytest
from fake_driver import PNG, FakeBrowser, FakeElement
from selenium.common.exceptions import InvalidSessionIdException

from web_test_service.runner import ERROR, FAILED, PASSED, STOPPED, run_script
from web_test_service.runner.proxy import Refusal

pytestmark = pytest.mark.timeout(30)

BASE = "http://app.test"


def cmd(command: str, target: str = "", value: str = "") -> dict:
    return {"command": command, "target": target, "value": value}


class Proxied(FakeBrowser):
    """A fake browser with a proxy's take_refusals(): a test puts refusals in `pending`."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[Refusal] = []
        self.driver.add_page(f"{BASE}/", "Home", FakeElement("h1", "Home", id="title"))

    def take_refusals(self) -> list[Refusal]:
        taken, self.pending = self.pending, []
        return taken


def run(browser: FakeBrowser, *commands: dict, **kwargs):
    return run_script({"commands": list(commands)}, browser.factory, base_url=BASE, implicit_wait_ms=50, **kwargs)


def test_a_failed_run_ends_with_a_screenshot_of_its_page_after_the_steps():
    browser = Proxied()
    result = run(browser, cmd("open", "/"), cmd("assertText", "id=title", "Away"), cmd("echo", "never"))
    assert result.state == FAILED and result.steps[1].screenshot == PNG
    assert result.final_screenshot == PNG and browser.driver.screenshots_taken == 2


def test_a_run_that_goes_on_after_a_verify_failure_ends_with_a_screenshot_too():
    browser = Proxied()
    result = run(browser, cmd("open", "/"), cmd("verifyText", "id=title", "Away"), cmd("echo", "goes on"))
    assert result.state == FAILED and len(result.steps) == 3 and result.final_screenshot == PNG


def test_an_errored_run_ends_with_a_screenshot():
    result = run(Proxied(), cmd("open", "/"), cmd("times", "not a number"), cmd("end"))
    assert result.state == ERROR and result.steps[1].screenshot == PNG
    assert result.final_screenshot == PNG


def test_a_passing_run_takes_no_screenshot_at_all():
    browser = Proxied()
    result = run(browser, cmd("open", "/"), cmd("assertText", "id=title", "Home"))
    assert result.state == PASSED and result.final_screenshot is None and browser.driver.screenshots_taken == 0


def test_a_stopped_run_takes_none(fast_stop_checks):
    browser = Proxied()
    result = run(browser, cmd("open", "/"), cmd("echo", "x"), should_stop=lambda: browser.driver.visited != [])
    assert result.state == STOPPED and result.final_screenshot is None and browser.driver.screenshots_taken == 0


def test_screenshots_off_means_no_final_one_either():
    result = run(Proxied(), cmd("open", "/"), cmd("assertText", "id=title", "Away"), screenshots=False)
    assert result.state == FAILED and result.final_screenshot is None


def test_a_broken_browser_gets_no_final_screenshot():
    browser = Proxied()

    def boom() -> None:
        raise InvalidSessionIdException("gone")

    browser.driver.scripts["return boom()"] = boom
    result = run(browser, cmd("open", "/"), cmd("executeScript", "return boom()"))
    assert result.state == ERROR and result.infrastructure_error
    assert result.final_screenshot is None and browser.driver.screenshots_taken == 0


def test_the_guard_looks_before_the_final_screenshot_and_a_refusal_means_none():
    """The page reached for a refused target after the failing step was judged (here: while its screenshot was
    taken): the guard's last look finds it, and the run's page is not captured on its way there."""
    browser = Proxied()
    taken = browser.driver.get_screenshot_as_png

    def screenshot_then_refusal() -> bytes:
        browser.pending.append(Refusal("169.254.169.254:80", "a link-local address"))
        return taken()

    browser.driver.get_screenshot_as_png = screenshot_then_refusal  # type: ignore[method-assign]
    result = run(browser, cmd("open", "/"), cmd("assertText", "id=title", "Away"))
    assert result.state == FAILED and result.steps[1].screenshot == PNG
    assert result.final_screenshot is None and browser.driver.screenshots_taken == 1


def test_a_guard_that_cannot_look_means_no_final_screenshot_and_the_verdict_stands():
    class ProxyGoneAfterTheStep(Proxied):
        gone = False

        def take_refusals(self) -> list[Refusal]:
            if self.gone:
                raise ConnectionError("the proxy is gone")
            return super().take_refusals()

    browser = ProxyGoneAfterTheStep()
    taken = browser.driver.get_screenshot_as_png

    def screenshot_then_proxy_gone() -> bytes:
        browser.gone = True
        return taken()

    browser.driver.get_screenshot_as_png = screenshot_then_proxy_gone  # type: ignore[method-assign]
    result = run(browser, cmd("open", "/"), cmd("assertText", "id=title", "Away"))
    assert result.state == FAILED and "Away" in result.message and result.final_screenshot is None
