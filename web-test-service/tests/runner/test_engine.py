"""The engine on a fake WebDriver: control flow, variables, verdicts, stop, timeout and step reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from fake_driver import PNG, FakeBrowser, FakeElement
from selenium.common.exceptions import ElementClickInterceptedException, InvalidSessionIdException, WebDriverException
from selenium.webdriver.common.keys import Keys

from web_test_service.runner import ERROR, FAILED, PASSED, SKIPPED, STOPPED, StepResult, run_script
from web_test_service.runner.control_flow import DEFAULT_LOOP_LIMIT
from web_test_service.runner.validation import validate_commands

pytestmark = pytest.mark.timeout(30)

BASE = "http://app.test"


def cmd(command: str, target: str = "", value: str = "", **extra) -> dict:
    return {"command": command, "target": target, "value": value, **extra}


def condition(expression: str) -> str:
    """The script the engine sends for a control-flow condition (after ${var} became arguments[i])."""
    return f"return !!({expression});"


def run(browser: FakeBrowser, commands: list[dict], **kwargs):
    """Run on the fake browser; check that on_step saw exactly the recorded steps, in order."""
    steps: list[StepResult] = []
    kwargs.setdefault("implicit_wait_ms", 100)
    result = run_script({"commands": commands}, browser.factory, base_url=BASE, on_step=steps.append, **kwargs)
    assert result.steps == steps
    return result


def states(result) -> list[tuple[int, str]]:
    return [(step.index, step.state) for step in result.steps]


@pytest.fixture()
def browser(fake_browser: FakeBrowser) -> FakeBrowser:
    """The fake browser with a form page, a popup page and a counter script."""
    driver = fake_browser.driver
    driver.add_page(
        f"{BASE}/form.html",
        "Form page",
        FakeElement("h1", "Hello", id="title"),
        FakeElement("input", id="name", name="username", value=""),
        FakeElement("input", id="agree", type="checkbox"),
        FakeElement("button", "alert", id="alert", on_click=lambda: driver.show_dialog("Hello alert")),
        FakeElement("a", "popup", id="popup", on_click=lambda: driver.open_window(f"{BASE}/other.html")),
    )
    driver.add_page(f"{BASE}/other.html", "Other page", FakeElement("h1", "Other", id="title"))
    driver.scripts["return Number(arguments[0]) + 1"] = lambda n: float(n) + 1
    return fake_browser


# ---- steps, verdicts and the deciding step ---------------------------------------------------------


def test_a_passing_run_reports_every_step_in_order_and_quits_the_browser(browser):
    result = run(browser, [cmd("open", "/form.html"), cmd("assertTitle", "Form page"), cmd("echo", "done")])
    assert result.state == PASSED and result.message is None and result.failed_step is None
    assert states(result) == [(0, PASSED), (1, PASSED), (2, PASSED)]
    assert [step.command for step in result.steps] == ["open", "assertTitle", "echo"]
    assert result.steps[2].message == "done"
    assert browser.driver.visited == [f"{BASE}/form.html"]
    assert browser.started == 1 and browser.driver.quit_called


def test_assert_stops_the_run_with_a_screenshot(browser):
    result = run(browser, [cmd("open", "/form.html"), cmd("assertText", "id=title", "Bye"), cmd("echo", "never")])
    assert result.state == FAILED and result.failed_step == 1
    assert result.message == "Actual value 'Hello' did not match 'Bye'"
    assert states(result) == [(0, PASSED), (1, FAILED)]
    assert result.steps[1].screenshot == PNG and result.echo_log == []


def test_verify_fails_the_step_but_the_run_goes_on(browser):
    result = run(
        browser,
        [cmd("open", "/form.html"), cmd("verifyText", "id=title", "Bye"), cmd("verifyTitle", "x"), cmd("echo", "on")],
    )
    assert result.state == FAILED
    assert states(result) == [(0, PASSED), (1, FAILED), (2, FAILED), (3, PASSED)]
    assert result.failed_step == 1 and result.message == "Actual value 'Hello' did not match 'Bye'"
    assert result.echo_log == ["on"]


def test_the_deciding_step_is_the_assert_after_earlier_verifies(browser):
    result = run(
        browser,
        [
            cmd("open", "/form.html"),
            cmd("verifyTitle", "Nope"),
            cmd("assertText", "id=title", "Bye"),
            cmd("echo", "never"),
        ],
    )
    assert states(result) == [(0, PASSED), (1, FAILED), (2, FAILED)]
    assert result.failed_step == 1  # the first failure
    assert result.message == "Actual value 'Hello' did not match 'Bye'"  # the one that ended the run


def test_an_action_on_a_missing_element_ends_the_run_in_error(browser):
    """The design's run states: a click that finds nothing is a script that could not run as written, not an
    assertion that did not hold."""
    result = run(browser, [cmd("open", "/form.html"), cmd("click", "id=missing-element"), cmd("echo", "never")])
    assert (result.state, result.error_code) == (ERROR, "command_failed")
    assert result.message == "Element id=missing-element not found" and result.failed_step == 1
    assert states(result) == [(0, PASSED), (1, ERROR)]
    assert result.steps[1].screenshot == PNG and result.final_screenshot == PNG
    assert not result.infrastructure_error and result.echo_log == []


def test_an_assert_on_a_missing_element_still_fails_the_run(browser):
    result = run(browser, [cmd("open", "/form.html"), cmd("assertText", "id=missing-element", "Hello")])
    assert (result.state, result.error_code) == (FAILED, None)
    assert result.message == "Element id=missing-element not found"
    assert states(result) == [(0, PASSED), (1, FAILED)]


def test_a_verify_on_a_missing_element_is_still_soft(browser):
    commands = [
        cmd("open", "/form.html"),
        cmd("verifyText", "id=missing-element", "Hello"),
        cmd("verifyText", "id=title", "Bye"),
        cmd("echo", "went on"),
    ]
    result = run(browser, commands)
    assert (result.state, result.error_code) == (FAILED, None)
    assert states(result) == [(0, PASSED), (1, FAILED), (2, FAILED), (3, PASSED)]
    assert result.echo_log == ["went on"] and result.message == "Element id=missing-element not found"


def test_an_action_that_errs_after_a_soft_failure_errs_the_run(browser):
    commands = [cmd("open", "/form.html"), cmd("verifyTitle", "Nope"), cmd("type", "id=missing-element", "x")]
    result = run(browser, [*commands, cmd("echo", "never")])
    assert (result.state, result.error_code) == (ERROR, "command_failed") and result.failed_step == 1
    assert result.message == "Element id=missing-element not found" and result.echo_log == []
    assert states(result) == [(0, PASSED), (1, FAILED), (2, ERROR)]


def test_an_element_that_cannot_be_clicked_errs_the_run(browser):
    def covered() -> None:
        raise ElementClickInterceptedException("element click intercepted: another element would receive the click")

    browser.driver.pages[f"{BASE}/form.html"].root.append(FakeElement("button", "buy", id="buy", on_click=covered))
    result = run(browser, [cmd("open", "/form.html"), cmd("click", "id=buy")])
    assert (result.state, result.error_code) == (ERROR, "command_failed")
    assert result.message.startswith("element click intercepted") and states(result)[-1] == (1, ERROR)


def test_script_errors_end_the_run_in_error(browser):
    result = run(browser, [cmd("echo", "a"), cmd("clikc", "id=x"), cmd("echo", "b")])
    assert result.state == ERROR and result.message == "Unknown command clikc" and result.failed_step == 1
    assert states(result) == [(0, PASSED), (1, ERROR)]
    assert result.steps[1].screenshot == PNG


def test_no_screenshots_when_turned_off(browser):
    result = run(browser, [cmd("open", "/form.html"), cmd("click", "id=nope")], screenshots=False)
    assert result.state == ERROR and result.message == "Element id=nope not found"
    assert result.steps[1].screenshot is None and browser.driver.screenshots_taken == 0


def test_skipped_commands_are_reported_and_not_run(browser):
    result = run(
        browser,
        [cmd("echo", "a", skip=True), cmd("//echo", "b"), cmd(""), cmd("echo", "c"), cmd("setSpeed", "10")],
    )
    assert states(result) == [(0, SKIPPED), (1, SKIPPED), (2, SKIPPED), (3, PASSED), (4, ERROR)]
    assert {step.message for step in result.steps[:3]} == {"Skipped"}
    assert result.echo_log == ["c"]
    assert result.message == "'setSpeed' is not supported in this run mode"


def test_a_broken_block_structure_ends_the_run_before_a_browser_starts(browser):
    result = run(browser, [cmd("echo", "x"), cmd("while", "true")])
    assert result.state == ERROR and result.failed_step == 1 and result.steps == []
    assert "'while' has no matching 'end'" in result.message
    assert browser.started == 0


def test_break_is_not_a_selenium_ide_command(browser):
    commands = [cmd("while", "true"), cmd("break"), cmd("end")]
    result = run(browser, commands)
    assert result.state == ERROR and result.message == "Unknown command break" and result.failed_step == 1
    unknown = {"index": 1, "field": "command", "message": "Unknown command break", "command": "break"}
    assert validate_commands(commands) == [unknown]


def test_a_broken_browser_is_an_infrastructure_error(browser):
    def boom() -> None:
        raise InvalidSessionIdException("gone")

    browser.driver.scripts["return boom()"] = boom
    browser.driver.console.append({"level": "INFO", "message": "from a previous run"})
    result = run(browser, [cmd("executeScript", "return boom()")])
    assert result.state == ERROR and result.infrastructure_error
    assert result.message.startswith("Browser failed: gone")
    assert result.steps[0].screenshot is None and result.console_log == []


def test_console_log_of_the_run_only(browser):
    browser.driver.console.append({"level": "INFO", "message": "before the run"})
    browser.driver.scripts["return log()"] = lambda: browser.driver.console.append(
        {"level": "SEVERE", "message": "during the run", "source": "console-api", "timestamp": 1}
    )
    result = run(browser, [cmd("executeScript", "return log()")])
    assert result.console_log == [
        {"level": "SEVERE", "message": "during the run", "source": "console-api", "timestamp": 1}
    ]


# ---- variables -------------------------------------------------------------------------------------


def test_store_echo_and_substitution(browser):
    result = run(
        browser,
        [
            cmd("open", "/form.html"),
            cmd("store", "alice", "user"),
            cmd("storeText", "id=title", "heading"),
            cmd("echo", "${heading}, ${user}! ${missing}"),
            cmd("type", "id=name", "${user}"),
            cmd("assertValue", "id=name", "alice"),
            cmd("sendKeys", "id=name", "${KEY_ENTER}"),
            cmd("storeJson", '{"a": [1, 2]}', "data"),
            cmd("storeTitle", "title"),
            cmd("assert", "title", "Form page"),
        ],
        variables={"given": 1},
    )
    assert result.state == PASSED, result.message
    assert result.echo_log == ["Hello, alice! ${missing}"]
    assert browser.driver.element("name").attributes["value"] == "alice" + Keys.ENTER
    assert result.variables == {
        "given": 1,
        "user": "alice",
        "heading": "Hello",
        "data": {"a": [1, 2]},
        "title": "Form page",
    }


def test_scripts_get_variables_as_arguments(browser):
    browser.driver.scripts["return arguments[0].a.length + arguments[1]"] = lambda data, n: len(data["a"]) + n
    result = run(
        browser,
        [
            cmd("storeJson", '{"a": [1, 2, 3]}', "data"),
            cmd("executeScript", "return ${data}.a.length + ${n}", "sum"),
            cmd("assert", "sum", "13"),
        ],
        variables={"n": 10},
    )
    assert result.state == PASSED, result.message


# ---- control flow ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "size", "branch"), [(9, "big", 1), (2, "medium", 3), (0, "small", 5)])
def test_if_elseif_else(browser, n, size, branch):
    browser.driver.scripts[condition("arguments[0] > 5")] = lambda value: float(value) > 5
    browser.driver.scripts[condition("arguments[0] > 1")] = lambda value: float(value) > 1
    commands = [
        cmd("if", "${n} > 5"),
        cmd("store", "big", "size"),
        cmd("elseIf", "${n} > 1"),
        cmd("store", "medium", "size"),
        cmd("else"),
        cmd("store", "small", "size"),
        cmd("end"),
        cmd("echo", "${size}"),
    ]
    result = run(browser, commands, variables={"n": n})
    assert result.state == PASSED, result.message
    assert result.echo_log == [size]
    assert [step.index for step in result.steps if step.index in (1, 3, 5)] == [branch]
    assert (result.steps[0].message == "Condition false") == (size != "big")


def test_while_loop(browser):
    browser.driver.scripts[condition("arguments[0] < 3")] = lambda i: float(i) < 3
    result = run(
        browser,
        [
            cmd("store", "0", "i"),
            cmd("while", "${i} < 3"),
            cmd("executeScript", "return Number(${i}) + 1", "i"),
            cmd("end"),
            cmd("assert", "i", "3"),
        ],
    )
    assert result.state == PASSED, result.message
    assert [step.index for step in result.steps] == [0, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 4]
    assert result.steps[-2].message == "Condition false"


def test_do_repeat_if(browser):
    browser.driver.scripts[condition("arguments[0] < 2")] = lambda i: float(i) < 2
    result = run(
        browser,
        [
            cmd("store", "0", "i"),
            cmd("do"),
            cmd("executeScript", "return Number(${i}) + 1", "i"),
            cmd("repeatIf", "${i} < 2"),
            cmd("echo", "${i}"),
        ],
    )
    assert result.state == PASSED, result.message
    assert [step.index for step in result.steps] == [0, 1, 2, 3, 2, 3, 4]
    assert result.echo_log == ["2"]


def test_times(browser):
    result = run(
        browser,
        [cmd("store", "", "w"), cmd("times", "${n}"), cmd("store", "${w}x", "w"), cmd("end")],
        variables={"n": "3"},
    )
    assert result.state == PASSED and result.variables["w"] == "xxx"
    assert [step.message for step in result.steps if step.command == "times"] == [
        "Iteration 1 of 3",
        "Iteration 2 of 3",
        "Iteration 3 of 3",
        None,
    ]
    result = run(browser, [cmd("times", "0"), cmd("echo", "never"), cmd("end"), cmd("echo", "after")])
    assert result.echo_log == ["after"]
    result = run(browser, [cmd("times", "many"), cmd("end")])
    assert result.state == ERROR and result.message == "Invalid number provided as a target: 'many'"


def test_for_each(browser):
    result = run(
        browser,
        [
            cmd("storeJson", '["a", "b", "c"]', "letters"),
            cmd("forEach", "letters", "letter"),
            cmd("echo", "${letter}"),
            cmd("end"),
            cmd("forEach", "missing", "x"),
            cmd("end"),
        ],
    )
    assert result.echo_log == ["a", "b", "c"]
    assert result.state == ERROR and result.message == "Variable 'missing' is not an array" and result.failed_step == 4


def test_nested_loops(browser):
    result = run(
        browser,
        [
            cmd("storeJson", "[1, 2]", "rows"),
            cmd("forEach", "rows", "row"),
            cmd("times", "2"),
            cmd("if", "true"),
            cmd("echo", "${row}"),
            cmd("end"),
            cmd("end"),
            cmd("end"),
        ],
    )
    assert result.state == PASSED and result.echo_log == ["1", "1", "2", "2"]


@pytest.mark.parametrize(
    ("commands", "passes"),
    [
        ([cmd("while", "true", "3"), cmd("echo", "loop"), cmd("end")], 3),
        ([cmd("times", "10", "2"), cmd("echo", "loop"), cmd("end")], 2),
        ([cmd("do"), cmd("echo", "loop"), cmd("repeatIf", "true", "4")], 5),  # the body runs once before the check
        ([cmd("while", "true"), cmd("echo", "loop"), cmd("end")], DEFAULT_LOOP_LIMIT),
    ],
)
def test_loop_limits(browser, commands, passes):
    result = run(browser, commands)
    assert result.state == ERROR and result.message.startswith("Max retry limit exceeded")
    assert result.failed_step == (2 if commands[0]["command"] == "do" else 0)
    assert result.echo_log == ["loop"] * passes


# ---- run: other tests of the project ---------------------------------------------------------------


def test_run_shares_variables_and_reports_only_its_own_step(browser):
    tests = {
        "login": [cmd("open", "/form.html"), cmd("type", "id=name", "${user}"), cmd("storeValue", "id=name", "typed")]
    }
    result = run(
        browser,
        [cmd("store", "carol", "user"), cmd("run", "login"), cmd("assert", "typed", "carol")],
        resolve_test=tests.get,
    )
    assert result.state == PASSED, result.message
    assert states(result) == [(0, PASSED), (1, PASSED), (2, PASSED)]


def test_failures_inside_run_name_the_test_and_command(browser):
    tests = {
        "soft": {"commands": [cmd("verifyTitle", "Nope"), cmd("echo", "soft went on")]},
        "hard": [cmd("echo", "hard"), cmd("assertTitle", "Nope"), cmd("echo", "never")],
    }
    result = run(browser, [cmd("run", "soft"), cmd("echo", "between"), cmd("run", "hard")], resolve_test=tests.get)
    assert states(result) == [(0, FAILED), (1, PASSED), (2, FAILED)]
    assert result.echo_log == ["soft went on", "between", "hard"]
    assert (
        result.steps[0].message == "In test 'soft', command 0 (verifyTitle Nope): Actual value '' did not match 'Nope'"
    )
    assert result.message == "In test 'hard', command 1 (assertTitle Nope): Actual value '' did not match 'Nope'"
    assert result.failed_step == 0


SUB_TESTS = {
    "buy": [cmd("open", "/form.html"), cmd("verifyTitle", "Nope"), cmd("click", "id=missing-element")],
    "outer": [cmd("echo", "outer"), cmd("run", "buy")],
    "check": [cmd("open", "/form.html"), cmd("assertText", "id=missing-element", "Hello")],
}
CLICK_NOT_FOUND = "In test 'buy', command 2 (click id=missing-element): Element id=missing-element not found"
ASSERT_NOT_FOUND = "In test 'check', command 1 (assertText id=missing-element): Element id=missing-element not found"


@pytest.mark.parametrize(
    ("test", "state", "code", "message"),
    [
        ("buy", ERROR, "command_failed", CLICK_NOT_FOUND),
        ("outer", ERROR, "command_failed", f"In test 'outer', command 1 (run buy): {CLICK_NOT_FOUND}"),
        ("check", FAILED, None, ASSERT_NOT_FOUND),
    ],
)
def test_a_step_inside_run_ends_the_run_step_as_it_ended(browser, test, state, code, message):
    """A sub-test's click that finds nothing errs the `run` step and the run, however deep; its assert fails it."""
    result = run(browser, [cmd("run", test), cmd("echo", "never")], resolve_test=SUB_TESTS.get)
    assert (result.state, result.error_code, result.message) == (state, code, message)
    assert states(result) == [(0, state)] and result.steps[0].screenshot == PNG
    assert result.echo_log == (["outer"] if test == "outer" else [])


@pytest.mark.parametrize(
    ("tests", "message"),
    [
        ({}, "Test 'other' not found"),
        (
            {"other": [cmd("run", "other")]},
            "In test 'other', command 0 (run other): Test 'other' calls itself recursively",
        ),
        (None, "Test 'other' not found: no other tests were given"),
    ],
)
def test_run_errors(browser, tests, message):
    result = run(browser, [cmd("run", "other")], resolve_test=None if tests is None else tests.get)
    assert result.state == ERROR and result.message == message


# ---- dialogs and windows ---------------------------------------------------------------------------


def test_a_dialog_in_the_way_is_answered_and_can_be_asserted_later(browser):
    result = run(
        browser,
        [
            cmd("open", "/form.html"),
            cmd("click", "id=alert"),
            cmd("assertTitle", "Form page"),  # runs into the alert: it is accepted, then the command runs
            cmd("assertAlert", "Hello alert"),
            cmd("dismissConfirmation"),  # no dialog open: arms the answer for the next one
            cmd("click", "id=alert"),
            cmd("assertTitle", "Form page"),  # runs into it: dismissed as armed
            cmd("verifyConfirmation", "Other"),
        ],
    )
    assert states(result)[-1] == (7, FAILED)
    assert result.message == 'Actual confirmation text "Hello alert" did not match "Other"'
    assert browser.driver.dialog_answers == [("Hello alert", "accept", None), ("Hello alert", "dismiss", None)]
    assert result.steps[4].message == "No dialog open: the answer applies to the next dialog"


def test_a_command_that_opens_a_window_stores_its_handle(browser):
    result = run(
        browser,
        [
            cmd("open", "/form.html"),
            cmd("storeWindowHandle", "root"),
            cmd("click", "id=popup", opensWindow=True, windowHandleName="popup"),
            cmd("selectWindow", "handle=${popup}"),
            cmd("assertTitle", "Other page"),
            cmd("close"),
            cmd("selectWindow", "handle=${root}"),
            cmd("assertTitle", "Form page"),
        ],
    )
    assert result.state == PASSED, result.message
    assert result.variables["popup"] == "window-2" and result.variables["root"] == "window-1"


# ---- stop, timeout and the watchdog ----------------------------------------------------------------


def test_stop_before_the_start_starts_no_browser(browser):
    result = run(browser, [cmd("echo", "x")], should_stop=lambda: True)
    assert result.state == STOPPED and result.message == "Stopped on request" and browser.started == 0


def test_stop_requested_between_steps(browser, fast_stop_checks):
    steps_seen: list[int] = []
    result = run_script(
        {"commands": [cmd("echo", str(n)) for n in range(5)]},
        browser.factory,
        on_step=lambda step: steps_seen.append(step.index),
        should_stop=lambda: len(steps_seen) >= 2,
    )
    assert result.state == STOPPED and result.message == "Stopped on request"
    assert steps_seen == [0, 1] and result.echo_log == ["0", "1"]
    assert browser.driver.quit_called


def test_a_failing_stop_flag_does_not_end_the_run(browser, fast_stop_checks):
    def flaky() -> bool:
        raise ConnectionError("redis down")

    result = run(browser, [cmd("echo", "a"), cmd("echo", "b")], should_stop=flaky)
    assert result.state == PASSED


def test_the_run_timeout_ends_a_long_pause(browser):
    started = time.monotonic()
    result = run(browser, [cmd("echo", "go"), cmd("pause", "20000")], timeout_ms=150)
    assert time.monotonic() - started < 2
    assert result.state == ERROR and result.message == "Script timed out after 150 ms"
    assert states(result) == [(0, PASSED), (1, ERROR)]


def test_the_scripts_own_timeout_applies_between_steps(browser):
    commands = [cmd("pause", "60"), cmd("pause", "60"), cmd("echo", "late")]
    result = run_script({"commands": commands, "timeout_ms": 100}, browser.factory)
    assert result.state == ERROR and result.message == "Script timed out after 100 ms"
    assert result.echo_log == []


def test_the_watchdog_kills_a_browser_stuck_after_a_stop(fast_stop_checks):
    browser = FakeBrowser(abortable=True)
    stop = threading.Event()

    def hang() -> None:
        stop.set()  # the stop is requested while this WebDriver call never returns on its own
        assert browser.driver.aborted.wait(10), "the watchdog did not abort the browser"
        raise WebDriverException("chrome not reachable")

    browser.driver.scripts["return hang()"] = hang
    started = time.monotonic()
    result = run(browser, [cmd("executeScript", "return hang()"), cmd("echo", "never")], should_stop=stop.is_set)
    assert time.monotonic() - started < 5
    assert browser.aborted
    assert result.state == STOPPED and states(result) == [(0, STOPPED)]
    assert result.console_log == []


def hang_until_aborted(browser: FakeBrowser, then: Callable[[], None] = lambda: None) -> Callable[[], None]:
    """A WebDriver call that never returns on its own: once the browser is aborted it fails, as a Grid's
    navigation does when the run's proxy is closed."""

    def hang() -> None:
        then()
        assert browser.driver.aborted.wait(10), "the watchdog did not abort the browser"
        raise WebDriverException("unknown error: net::ERR_PROXY_CONNECTION_FAILED")

    return hang


@pytest.mark.parametrize("ending", ["stop", "deadline"])
def test_a_browser_the_watchdog_killed_is_asked_nothing_more(fast_stop_checks, ending):
    """A Grid does not answer a command to the session being ended: one more question would hang the run."""
    browser = FakeBrowser(abortable=True)
    stop = threading.Event()
    browser.driver.scripts["return hang()"] = (
        hang_until_aborted(browser, stop.set) if ending == "stop" else hang_until_aborted(browser)
    )
    limits = {"should_stop": stop.is_set} if ending == "stop" else {"timeout_ms": 300}
    started = time.monotonic()
    result = run(browser, [cmd("executeScript", "return hang()"), cmd("echo", "never")], **limits)
    assert time.monotonic() - started < 5
    assert browser.aborted and browser.driver.asked_after_abort == 0
    if ending == "stop":
        assert (result.state, result.message) == (STOPPED, "Stopped on request")
    else:
        assert (result.state, result.message) == (ERROR, "Script timed out after 300 ms")
    assert states(result) == [(0, result.state)] and result.final_screenshot is None


def test_a_missing_element_ends_the_run_after_the_implicit_wait(browser):
    started = time.monotonic()
    result = run(browser, [cmd("open", "/form.html"), cmd("click", "id=nope")], implicit_wait_ms=200)
    assert 0.2 <= time.monotonic() - started < 2
    assert result.state == ERROR and result.message == "Element id=nope not found"


def test_fallback_targets_are_tried(browser):
    fallback = cmd("assertText", "id=missing", "Hello", targets=[["name=nothing", "name"], ["css=#title", "css"]])
    result = run(browser, [cmd("open", "/form.html"), fallback])
    assert result.state == PASSED, result.message
