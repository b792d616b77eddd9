"""The runner against real headless Chromium and pages served on 127.0.0.1 (one browser at a time)."""

from __future__ import annotations

import os
import struct
import threading
import time
import zlib

import psutil
import pytest

from shared.host_policy import HostPolicy
from shared.testing import TEST_WEB_ALLOWED_HOSTS
from web_test_service.runner import ERROR, FAILED, PASSED, SKIPPED, STOPPED, StepResult, run_script
from web_test_service.runner.driver import Browser, BrowserStartError, make_driver

LOOPBACK_POLICY = HostPolicy.from_setting(TEST_WEB_ALLOWED_HOSTS, "WEB_ALLOWED_HOSTS")

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def cmd(command: str, target: str = "", value: str = "", **extra) -> dict:
    return {"command": command, "target": target, "value": value, **extra}


def run(factory, site, commands, **kwargs):
    steps: list[StepResult] = []
    kwargs.setdefault("implicit_wait_ms", 2000)
    result = run_script({"commands": commands}, factory, base_url=site.url, on_step=steps.append, **kwargs)
    assert result.steps == steps
    return result


def assert_passed(result) -> None:
    assert result.state == PASSED, (result.message, [s.to_dict() for s in result.steps if s.state != PASSED])


def is_valid_png(data: bytes | None) -> bool:
    """Check the PNG signature and the IHDR chunk's CRC."""
    if not data or data[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    length, kind = struct.unpack(">I4s", data[8:16])
    chunk = data[12 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    return kind == b"IHDR" and zlib.crc32(chunk) == crc


def processes_using(profile_dir: str) -> list[int]:
    """Pids whose command line mentions the profile dir (every Chromium process of that browser)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(profile_dir in part for part in process.info["cmdline"] or ()):
                found.append(process.info["pid"])
        except psutil.Error:
            continue
    return found


def is_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class TestCommands:
    """Each test runs one script on the class's shared browser (reset before every run)."""

    def test_input_commands_pass(self, reused_browser, site):
        result = run(
            reused_browser,
            site,
            [
                cmd("open", "/form.html"),
                cmd("setWindowSize", "1024x700"),
                cmd("type", "id=name", "alice"),
                cmd("assertValue", "id=name", "alice"),
                cmd("type", "name=username", "bob"),
                cmd("verifyValue", "css=#name", "bob"),
                cmd("assertNotValue", "id=name", "alice"),
                cmd("check", "id=agree"),
                cmd("check", "id=agree"),
                cmd("assertChecked", "id=agree"),
                cmd("uncheck", "id=agree"),
                cmd("assertNotChecked", "xpath=//input[@id='agree']"),
                cmd("select", "id=color", "label=Blue"),
                cmd("assertSelectedValue", "id=color", "b"),
                cmd("select", "id=color", "value=r"),
                cmd("assertSelectedLabel", "id=color", "Red"),
                cmd("select", "id=color", "id=green"),
                cmd("assertNotSelectedLabel", "id=color", "Red"),
                cmd("select", "id=color", "index=3"),
                cmd("assertSelectedLabel", "id=color", "Blue"),
                cmd("select", "id=color", "Green"),
                cmd("assertNotSelectedValue", "id=color", "b"),
                cmd("addSelection", "id=multi", "label=A"),
                cmd("addSelection", "id=multi", "label=B"),
                cmd("executeScript", "return document.querySelector('#multi').selectedOptions.length", "n"),
                cmd("assert", "n", "2"),
                cmd("removeSelection", "id=multi", "label=A"),
                cmd("executeScript", "return document.querySelector('#multi').selectedOptions.length", "n"),
                cmd("assert", "n", "1"),
                cmd("editContent", "id=editable", "new text"),
                cmd("assertText", "id=editable", "new text"),
                cmd("sendKeys", "id=keys", "abc${KEY_ENTER}"),
                cmd("assertText", "id=out", "enter:abc"),
                cmd("assertEditable", "id=name"),
                cmd("assertNotEditable", "id=readonly"),
                cmd("verifyNotEditable", "id=disabled"),
                cmd("type", "id=q", "term"),
                cmd("submit", "id=search"),
                cmd("waitForText", "id=title", "Other"),
                cmd("assertTitle", "Other page"),
            ],
        )
        assert_passed(result)
        assert [step.index for step in result.steps] == list(range(40))

    def test_store_wait_and_link_commands_pass(self, reused_browser, site):
        result = run(
            reused_browser,
            site,
            [
                cmd("open", "/form.html"),
                cmd("storeTitle", "title"),
                cmd("assert", "title", "Form page"),
                cmd("storeText", "id=title", "heading"),
                cmd("store", "${heading} world", "greeting"),
                cmd("assert", "greeting", "Hello world"),
                cmd("storeValue", "id=readonly", "fixed"),
                cmd("verify", "fixed", "fixed"),
                cmd("storeAttribute", "id=link@href", "href"),
                cmd("assert", "href", f"{site.url}/other.html"),
                cmd("storeElementCount", "css=li.item", "items"),
                cmd("assert", "items", "3"),
                cmd("storeJson", '{"a": [1, 2], "b": "x"}', "data"),
                cmd("executeScript", "return ${data}.a.length + ${items}", "sum"),
                cmd("assert", "sum", "5"),
                cmd("echo", "heading is ${heading}"),
                cmd("assertElementPresent", "id=gone"),
                cmd("click", "id=remove"),
                cmd("waitForElementNotPresent", "id=gone", "3000"),
                cmd("assertElementNotPresent", "id=gone"),
                cmd("waitForElementNotVisible", "id=later", "1000"),
                cmd("click", "id=show"),
                cmd("waitForElementVisible", "id=later", "3000"),
                cmd("waitForElementPresent", "id=later", "1000"),
                cmd("waitForElementEditable", "id=name", "1000"),
                cmd("waitForElementNotEditable", "id=readonly", "1000"),
                cmd("assertText", "id=later", "Later text"),
                cmd("assertNotText", "id=later", "Earlier text"),
                cmd("pause", "50"),
                cmd("click", "link=Go to other page"),
                cmd("assertText", "id=title", "Other"),
                cmd("open", "/form.html"),
                cmd("click", "partialLinkText=other page"),
                cmd("assertTitle", "Other page"),
            ],
        )
        assert_passed(result)
        assert result.echo_log == ["heading is Hello"]
        assert result.steps[15].message == "heading is Hello"
        assert result.variables["data"] == {"a": [1, 2], "b": "x"}
        assert any("boom from page" in entry["message"] for entry in result.console_log)

    def test_failed_assert_stops_with_screenshot(self, reused_browser, site):
        result = run(
            reused_browser,
            site,
            [cmd("open", "/form.html"), cmd("assertText", "id=title", "Goodbye"), cmd("echo", "never")],
        )
        assert result.state == FAILED
        assert result.failed_step == 1
        assert result.message == "Actual value 'Hello' did not match 'Goodbye'"
        assert [step.state for step in result.steps] == [PASSED, FAILED]
        assert is_valid_png(result.steps[1].screenshot)
        assert result.steps[1].to_dict()["has_screenshot"] is True
        assert result.echo_log == []

    def test_verify_failure_lets_the_run_continue(self, reused_browser, site):
        result = run(
            reused_browser,
            site,
            [
                cmd("open", "/form.html"),
                cmd("verifyText", "id=title", "Nope"),
                cmd("verifyTitle", "Form page"),
                cmd("echo", "still running"),
            ],
        )
        assert result.state == FAILED
        assert [step.state for step in result.steps] == [PASSED, FAILED, PASSED, PASSED]
        assert result.failed_step == 1
        assert result.echo_log == ["still running"]
        assert is_valid_png(result.steps[1].screenshot)

    def test_a_click_on_a_missing_element_errs_after_the_implicit_wait(self, reused_browser, site):
        started = time.monotonic()
        commands = [cmd("open", "/form.html"), cmd("click", "id=missing-element"), cmd("echo", "never")]
        result = run(reused_browser, site, commands, implicit_wait_ms=700)
        assert (result.state, result.error_code) == (ERROR, "command_failed")
        assert result.message == "Element id=missing-element not found"
        assert [step.state for step in result.steps] == [PASSED, ERROR] and is_valid_png(result.steps[1].screenshot)
        assert 0.6 < time.monotonic() - started < 10

    def test_typing_into_a_disabled_input_errs_and_asserting_a_missing_element_fails(self, reused_browser, site):
        typing = [cmd("open", "/form.html"), cmd("type", "id=disabled", "x")]
        typed = run(reused_browser, site, typing, implicit_wait_ms=500)
        assert (typed.state, typed.error_code) == (ERROR, "command_failed"), typed.message
        assert "invalid element state" in typed.message
        asserting = [cmd("open", "/form.html"), cmd("assertText", "id=missing-element", "Hello")]
        asserted = run(reused_browser, site, asserting, implicit_wait_ms=500)
        assert (asserted.state, asserted.error_code) == (FAILED, None)
        assert asserted.message == "Element id=missing-element not found"

    def test_fallback_targets_are_tried(self, reused_browser, site):
        fallback = cmd("assertText", "id=missing", "Hello", targets=[["name=nothing", "name"], ["css=#title", "css"]])
        result = run(reused_browser, site, [cmd("open", "/form.html"), fallback], implicit_wait_ms=500)
        assert_passed(result)

    def test_unknown_locator_is_an_error(self, reused_browser, site):
        result = run(reused_browser, site, [cmd("open", "/form.html"), cmd("click", "foo=bar")])
        assert result.state == ERROR
        assert result.message == "Unknown locator foo"
        assert result.steps[-1].state == ERROR

    def test_unreachable_page_is_an_error(self, reused_browser, site):
        with socket_on_free_port() as port:
            pass  # the port is closed again: nothing listens there
        result = run(reused_browser, site, [cmd("open", f"http://127.0.0.1:{port}/")])
        assert result.state == ERROR
        # The proxy answers Chromium with a reset (runner/proxy.py); the step says what really happened.
        assert result.message == f"Cannot reach 127.0.0.1:{port}: connection refused"
        assert result.infrastructure_error is False

    def test_unsupported_and_skipped_commands(self, reused_browser, site):
        result = run(reused_browser, site, [cmd("echo", "a", skip=True), cmd("echo", "b"), cmd("setSpeed", "100")])
        assert [step.state for step in result.steps] == [SKIPPED, PASSED, ERROR]
        assert result.state == ERROR
        assert result.message == "'setSpeed' is not supported in this run mode"

    def test_control_flow(self, reused_browser, site):
        result = run(
            reused_browser,
            site,
            [
                cmd("store", "2", "n"),
                cmd("if", "${n} > 5"),
                cmd("store", "big", "size"),
                cmd("elseIf", "${n} > 1"),
                cmd("store", "medium", "size"),
                cmd("else"),
                cmd("store", "small", "size"),
                cmd("end"),
                cmd("assert", "size", "medium"),
                cmd("store", "0", "i"),
                cmd("while", "${i} < 3"),
                cmd("executeScript", "return Number(${i}) + 1", "i"),
                cmd("end"),
                cmd("assert", "i", "3"),
                cmd("store", "", "word"),
                cmd("times", "4"),
                cmd("store", "${word}x", "word"),
                cmd("end"),
                cmd("assert", "word", "xxxx"),
                cmd("storeJson", '["a", "b", "c"]', "letters"),
                cmd("store", "", "joined"),
                cmd("forEach", "letters", "letter"),
                cmd("store", "${joined}${letter}", "joined"),
                cmd("end"),
                cmd("assert", "joined", "abc"),
                cmd("do"),
                cmd("executeScript", "return ${i} - 1", "i"),
                cmd("repeatIf", "${i} > 0"),
                cmd("assert", "i", "0"),
                cmd("if", "false"),
                cmd("echo", "not here"),
                cmd("end"),
            ],
        )
        assert_passed(result)
        assert result.echo_log == []
        assert 6 not in [step.index for step in result.steps]  # the else branch did not run

    def test_loop_limit(self, reused_browser, site):
        result = run(reused_browser, site, [cmd("while", "true", "3"), cmd("echo", "loop"), cmd("end")])
        assert result.state == ERROR
        assert result.message.startswith("Max retry limit exceeded")
        assert result.echo_log == ["loop"] * 3

    def test_frames(self, reused_browser, site):
        result = run(
            reused_browser,
            site,
            [
                cmd("open", "/frames.html"),
                cmd("selectFrame", "id=frame1"),
                cmd("assertText", "id=inner", "Inner"),
                cmd("selectFrame", "index=0"),
                cmd("assertText", "id=deep", "Deep"),
                cmd("selectFrame", "relative=parent"),
                cmd("assertText", "id=inner", "Inner"),
                cmd("selectFrame", "relative=top"),
                cmd("assertText", "id=title", "Top"),
                cmd("selectFrame", "index=0\\0"),
                cmd("assertText", "id=deep", "Deep"),
                cmd("selectFrame", "relative=top"),
            ],
        )
        assert_passed(result)

    def test_windows(self, reused_browser, site):
        result = run(
            reused_browser,
            site,
            [
                cmd("open", "/windows.html"),
                cmd("storeWindowHandle", "root"),
                cmd("click", "id=popup", opensWindow=True, windowHandleName="popup", windowTimeout=3000),
                cmd("selectWindow", "handle=${popup}"),
                cmd("waitForText", "id=title", "Other"),
                cmd("assertTitle", "Other page"),
                cmd("close"),
                cmd("selectWindow", "handle=${root}"),
                cmd("assertTitle", "Windows"),
            ],
        )
        assert_passed(result)

    def test_dialogs(self, reused_browser, site):
        result = run(
            reused_browser,
            site,
            [
                cmd("open", "/dialogs.html"),
                cmd("click", "id=alert"),
                cmd("assertAlert", "Hello alert"),
                cmd("click", "id=confirm"),
                cmd("assertConfirmation", "Sure?"),
                cmd("dismissConfirmation"),
                cmd("assertText", "id=out", "no"),
                cmd("click", "id=confirm"),
                cmd("verifyConfirmation", "Sure?"),
                cmd("acceptConfirmation"),
                cmd("assertText", "id=out", "yes"),
                cmd("click", "id=prompt"),
                cmd("assertPrompt", "Name?"),
                cmd("answerPrompt", "Bob"),
                cmd("assertText", "id=out", "Bob"),
                cmd("click", "id=prompt"),
                cmd("dismissPrompt"),
                cmd("assertText", "id=out", "null"),
                # Left open, the alert is answered when the next command runs into it and can be asserted later.
                cmd("click", "id=alert"),
                cmd("click", "id=confirm"),
                cmd("acceptAlert"),
                cmd("assertAlert", "Hello alert"),
                cmd("acceptConfirmation"),
                cmd("assertText", "id=out", "yes"),
            ],
        )
        assert_passed(result)

    def test_wrong_alert_text_fails(self, reused_browser, site):
        result = run(
            reused_browser,
            site,
            [cmd("open", "/dialogs.html"), cmd("click", "id=alert"), cmd("assertAlert", "Other"), cmd("echo", "x")],
        )
        assert result.state == FAILED
        assert result.message == 'Actual alert text "Hello alert" did not match "Other"'

    def test_scripts(self, reused_browser, site):
        result = run(
            reused_browser,
            site,
            [
                cmd("open", "/form.html"),
                cmd("storeJson", '{"n": 20}', "obj"),
                cmd("executeScript", "return ${obj}.n * 2 + Number(${one})", "answer"),
                cmd("assert", "answer", "41"),
                cmd(
                    "executeAsyncScript",
                    "return new Promise((resolve) => { setTimeout(() => resolve(${answer} + 1), 9); });",
                    "later",
                ),
                cmd("assert", "later", "42"),
                cmd("runScript", "document.getElementById('out').textContent = 'from ${answer}';"),
                cmd("assertText", "id=out", "from 41"),
                cmd("mouseOver", "id=title"),
                cmd("executeAsyncScript", "return Promise.reject(new Error('nope'));"),
            ],
            variables={"one": "1"},
        )
        assert result.state == ERROR
        assert result.failed_step == 9
        assert result.message == "Promise rejected: nope"

    def test_javascript_error_is_an_error(self, reused_browser, site):
        result = run(reused_browser, site, [cmd("executeScript", "return notDefined.x;")])
        assert result.state == ERROR
        assert result.message.startswith("JavaScript error")

    def test_mouse_commands(self, reused_browser, site):
        result = run(
            reused_browser,
            site,
            [
                cmd("open", "/mouse.html"),
                cmd("mouseOver", "id=target"),
                cmd("mouseOut", "id=target"),
                cmd("mouseDown", "id=target"),
                cmd("mouseUp", "id=target"),
                cmd("doubleClick", "id=target"),
                cmd("clickAt", "id=target", "10,20"),
                cmd("mouseMoveAt", "id=target", "0,0"),
                cmd("mouseDownAt", "id=target", "5,5"),
                cmd("mouseUpAt", "id=target", "5,5"),
                # Chromium drops the mouseup of a drag that follows a double-click at once: drag first.
                cmd("dragAndDropToObject", "id=src", "id=dst"),
                cmd("doubleClickAt", "id=target", "1,1"),
                cmd("storeText", "id=log", "log"),
            ],
        )
        assert_passed(result)
        log = result.variables["log"]
        for event in ("mouseover", "mouseout", "mousedown", "mouseup", "dblclick", "click@110,70", "dropped"):
            assert event in log, log

    def test_run_sub_test_shares_variables(self, reused_browser, site):
        tests = {
            "login": [
                cmd("open", "/form.html"),
                cmd("type", "id=name", "${user}"),
                cmd("storeValue", "id=name", "typed"),
            ],
            "broken": [cmd("verifyTitle", "Nope"), cmd("assertText", "id=title", "Nope")],
        }
        result = run(
            reused_browser,
            site,
            [cmd("store", "carol", "user"), cmd("run", "login"), cmd("assert", "typed", "carol"), cmd("run", "broken")],
            resolve_test=tests.get,
        )
        assert result.state == FAILED
        assert [step.state for step in result.steps] == [PASSED, PASSED, PASSED, FAILED]
        assert "In test 'broken', command 1 (assertText id=title)" in result.message

    def test_script_timeout(self, reused_browser, site):
        started = time.monotonic()
        result = run(reused_browser, site, [cmd("echo", "go"), cmd("pause", "20000")], timeout_ms=1500)
        assert result.state == ERROR
        assert result.message == "Script timed out after 1500 ms"
        assert time.monotonic() - started < 5


class socket_on_free_port:
    """Reserve a free port and release it on exit."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


class TestBrowserLifecycle:
    """Fresh browsers per run (the shared browser of TestCommands is gone by now)."""

    def start_run(self, site, commands, **kwargs):
        """Run the script in a thread; return (thread, outcome dict, started browsers, stop event)."""
        browsers: list[Browser] = []
        stop = threading.Event()
        outcome: dict = {}

        def factory():
            browser = make_driver(policy=LOOPBACK_POLICY)
            browsers.append(browser)
            return browser

        def target():
            outcome["result"] = run_script(
                {"commands": commands}, factory, base_url=site.url, should_stop=stop.is_set, **kwargs
            )

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        return thread, outcome, browsers, stop

    def assert_no_browser_left(self, browser: Browser) -> None:
        assert not is_alive(browser.chromedriver_pid)
        assert processes_using(browser.profile_dir) == []
        assert not os.path.exists(browser.profile_dir)

    def test_passing_run_leaves_no_process(self, chromium, site):
        browsers: list[Browser] = []

        def factory():
            browsers.append(make_driver(policy=LOOPBACK_POLICY))
            return browsers[-1]

        result = run_script(
            {"commands": [cmd("open", "/other.html"), cmd("assertTitle", "Other page")]}, factory, base_url=site.url
        )
        assert_passed(result)
        self.assert_no_browser_left(browsers[0])

    def test_stop_mid_run(self, chromium, site):
        reached = threading.Event()
        commands = [
            cmd("open", "/form.html"),
            cmd("echo", "started"),
            cmd("while", "true", "100000"),
            cmd("pause", "100"),
            cmd("end"),
        ]
        thread, outcome, browsers, stop = self.start_run(
            site, commands, on_step=lambda step: step.command == "echo" and reached.set()
        )
        assert reached.wait(30), "the run did not start"
        running = browsers[0]
        assert processes_using(running.profile_dir), "the browser should be running"
        stop.set()
        stopped_at = time.monotonic()
        thread.join(10)
        assert not thread.is_alive()
        assert time.monotonic() - stopped_at < 5
        result = outcome["result"]
        assert result.state == STOPPED
        self.assert_no_browser_left(running)

    def test_stop_while_a_page_never_loads(self, chromium, site):
        reached = threading.Event()
        commands = [cmd("echo", "started"), cmd("open", "/slow")]
        thread, outcome, browsers, stop = self.start_run(
            site, commands, on_step=lambda step: step.command == "echo" and reached.set()
        )
        assert reached.wait(30), "the run did not start"
        stop.set()
        stopped_at = time.monotonic()
        thread.join(10)
        assert not thread.is_alive()
        assert time.monotonic() - stopped_at < 5
        assert outcome["result"].state == STOPPED
        self.assert_no_browser_left(browsers[0])

    def test_stop_before_start_starts_no_browser(self, site):
        def factory():
            raise AssertionError("no browser should start")

        result = run_script({"commands": [cmd("echo", "x")]}, factory, should_stop=lambda: True)
        assert result.state == STOPPED

    def test_start_error_names_the_problem(self):
        with pytest.raises(BrowserStartError, match="chromedriver not found"):
            make_driver(chromedriver_path="/nonexistent/chromedriver")
