"""The web target policy's logic on a fake browser: schemes, literal targets at save time, refusals in a run."""

from __future__ import annotations

import json

import pytest
from fake_driver import FakeBrowser, FakeElement
from selenium.common.exceptions import WebDriverException

from shared.host_policy import HostPolicy, Target
from web_test_service.runner import ERROR, PASSED, run_script
from web_test_service.runner.errors import ScriptError
from web_test_service.runner.policy import PolicyGuard, PolicyViolation, literal_target_problem, scheme_problem
from web_test_service.runner.proxy import Refusal, Unreachable
from web_test_service.runner.validation import validate_commands

pytestmark = pytest.mark.timeout(30)

BASE = "http://app.test"
POLICY = HostPolicy.from_setting("*.example.com,10.0.0.0/8", "WEB_ALLOWED_HOSTS", [Target("10.0.0.5", 6379)])


def cmd(command: str, target: str = "", value: str = "") -> dict:
    return {"command": command, "target": target, "value": value}


@pytest.mark.parametrize("url", ["http://x/", "HTTPS://x/", "about:blank", " about:BLANK "])
def test_the_runner_opens_http_and_the_blank_page(url):
    assert scheme_problem(url) is None


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "FILE:/etc/passwd", "data:,x", "view-source:http://x/", "chrome://version",
            "javascript:alert(1)", "about:version", "filesystem:http://x/temporary/a", "blob:http://x/1", "ftp://x/"],
)  # fmt: skip
def test_every_other_scheme_is_refused_naming_the_policy(url):
    problem = scheme_problem(url)
    assert problem and problem.startswith("Blocked by WEB_ALLOWED_HOSTS: ")
    assert url.split(":", 1)[0].lower() + ": URL" in problem
    assert "/etc/passwd" not in problem  # the scheme, never the path


@pytest.mark.parametrize(
    "target, refused",
    [("http://www.example.com/", None), ("http://10.1.2.3:8080/", None), ("/relative", None),
     ("${url}", None), ("http://${host}/", None), ("about:blank", None),
     ("http://evil.test/", "host 'evil.test' is not in WEB_ALLOWED_HOSTS"),
     ("http://192.168.1.1/", "address 192.168.1.1 is not in WEB_ALLOWED_HOSTS"),
     ("http://[::ffff:10.0.0.5]:6379/", "platform's own endpoints"),
     ("http://10.0.0.5:6379/", "platform's own endpoints"),
     ("file:///etc/passwd", "a file: URL")],
)  # fmt: skip
def test_literal_targets_are_judged_at_save_time_and_names_not_resolved(target, refused):
    problem = literal_target_problem(target, POLICY)
    if refused is None:
        assert problem is None
    else:
        assert problem and problem.startswith("Blocked by WEB_ALLOWED_HOSTS") and refused in problem


def test_validation_names_the_open_command_that_is_refused():
    commands = [cmd("open", "/"), cmd("open", "file:///etc/passwd"), cmd("open", "http://192.168.1.1/")]
    assert [(p["index"], p["field"]) for p in validate_commands(commands)] == [(1, "target")]  # schemes always
    assert [(p["index"], p["field"]) for p in validate_commands(commands, POLICY)] == [(1, "target"), (2, "target")]
    assert validate_commands([cmd("echo", "file:///etc/passwd")], POLICY) == []  # only `open` navigates


class Reporting(FakeBrowser):
    """A fake browser with a proxy's take_refusals(): a test puts refusals in `pending`."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[Refusal] = []
        self.driver.add_page(f"{BASE}/", "Home", FakeElement("h1", "Home", id="title"))
        self.driver.add_page(f"{BASE}/other", "Other")

    def take_refusals(self) -> list[Refusal]:
        taken, self.pending = self.pending, []
        return taken


def test_a_refusal_during_a_step_ends_it_and_the_run_in_error():
    browser = Reporting()
    refusal = Refusal("169.254.169.254:80", "a link-local address")
    original = browser.driver.get

    def get(url: str) -> None:
        original(url)
        if url.endswith("/other"):
            browser.pending.append(refusal)  # as the proxy would, for a request the page made

    browser.driver.get = get  # type: ignore[method-assign]
    result = run_script(
        {"commands": [cmd("open", "/"), cmd("open", "/other"), cmd("assertTitle", "Other")]},
        browser.factory,
        base_url=BASE,
    )
    assert result.state == ERROR and result.error_code == "target_blocked"
    assert result.message == refusal.message == "Blocked by WEB_ALLOWED_HOSTS: 169.254.169.254:80: a link-local address"
    assert [step.state for step in result.steps] == [PASSED, ERROR]
    assert result.failed_step == 1


def test_open_never_asks_the_browser_for_a_local_url():
    browser = Reporting()
    asked: list[str] = []
    browser.driver.get = asked.append  # type: ignore[method-assign]
    result = run_script({"commands": [cmd("open", "file:///etc/passwd")]}, browser.factory, base_url=BASE)
    assert result.state == ERROR and result.error_code == "target_blocked"
    assert asked == []  # chromedriver would have opened it


def test_a_refusal_inside_a_sub_test_is_still_target_blocked():
    tests = {"local": [cmd("echo", "in"), cmd("open", "file:///etc/passwd")]}
    result = run_script({"commands": [cmd("run", "local")]}, Reporting().factory, base_url=BASE, resolve_test=tests.get)
    assert result.state == ERROR and result.error_code == "target_blocked"
    where = "In test 'local', command 1 (open file:///etc/passwd)"
    assert result.message.startswith(f"{where}: Blocked by WEB_ALLOWED_HOSTS")
    assert [step.state for step in result.steps] == [ERROR]


class Console:
    """A driver whose console holds the given messages once."""

    def __init__(self, *messages: str) -> None:
        self.entries = [{"level": "SEVERE", "message": message, "timestamp": 1} for message in messages]

    def get_log(self, kind: str) -> list[dict]:
        taken, self.entries = self.entries, []
        return taken


def test_chromiums_own_refusals_are_read_from_the_console_and_kept_in_the_log():
    guard = PolicyGuard(Console("http://x/ 0 Not allowed to load local resource: file:///etc/passwd"), None)
    found = guard.violation()
    assert isinstance(found, PolicyViolation)
    assert str(found) == "Blocked by WEB_ALLOWED_HOSTS: a file: URL: Chromium refused to load it for the page"
    assert len(guard.console_log) == 1 and guard.violation() is None
    data = PolicyGuard(Console("http://x/ 0 Not allowed to navigate top frame to data URL: data:,x"), None)
    assert "a data: URL" in str(data.violation())


def test_a_refusal_explains_a_failed_step_and_a_reset_names_the_unreachable_target():
    class Browser:
        refusals: list = []
        unreachable = [Unreachable("127.0.0.1:9", "connection refused")]

        def take_refusals(self):
            taken, self.refusals = self.refusals, []
            return taken

        def take_unreachable(self):
            taken, self.unreachable = self.unreachable, []
            return taken

    browser = Browser()
    guard = PolicyGuard(Console(), browser)
    reset = WebDriverException("unknown error: net::ERR_CONNECTION_RESET")
    explained = guard.explain(reset)
    assert isinstance(explained, ScriptError) and str(explained) == "Cannot reach 127.0.0.1:9: connection refused"
    other = ValueError("anything else")
    assert guard.explain(other) is other
    browser.refusals = [Refusal("127.0.0.2:80", "not named")]
    assert isinstance(guard.explain(other), PolicyViolation)


class Network:
    """A driver whose performance log holds the given DevTools events once."""

    def __init__(self, *events: tuple[str, dict]) -> None:
        self.entries = [
            {"message": json.dumps({"webview": "W", "message": {"method": method, "params": params}})}
            for method, params in events
        ]

    def get_log(self, kind: str) -> list[dict]:
        if kind != "performance":
            return []
        taken, self.entries = self.entries, []
        return taken


def test_an_unsafe_redirect_in_the_network_log_is_a_refusal_naming_its_scheme_only():
    redirect = ("Network.responseReceivedExtraInfo", {"requestId": "1", "headers": {"Location": "file:///etc/passwd"}})
    failed = ("Network.loadingFailed", {"requestId": "1", "errorText": "net::ERR_UNSAFE_REDIRECT", "type": "Document"})
    found = PolicyGuard(Network(redirect, failed), None).violation()
    assert str(found) == (
        "Blocked by WEB_ALLOWED_HOSTS: a redirect to a file: URL: only http(s) targets may be reached"
        " (Chromium refused to follow it)"
    )
    unseen = PolicyGuard(Network(failed), None).violation()  # its response came before chromedriver attached
    assert "a redirect to a non-network URL" in str(unseen)
    reset = ("Network.loadingFailed", {"requestId": "2", "errorText": "net::ERR_CONNECTION_RESET"})
    assert PolicyGuard(Network(reset), None).violation() is None  # a network error is not the policy's
