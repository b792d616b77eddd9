"""The web target policy in a real Chromium behind its proxy: what a page may not reach, and what the run says."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from hostile_sites import BLOCKED, FORBIDDEN, PASSWD, Sites, hostile_sites, page, trusting

from shared.host_policy import HostPolicy, Target
from shared.testing import TEST_WEB_ALLOWED_HOSTS
from web_test_service.runner import ERROR, PASSED, driver, run_script
from web_test_service.runner.driver import Browser, make_driver

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[Sites]:
    with hostile_sites(tmp_path_factory.mktemp("tls")) as sites:
        yield sites
        assert sites.reached() == 0, "a refused server was reached"


@pytest.fixture(scope="module")
def browser(servers) -> Iterator[Browser]:
    # As WebTestSettings.host_policy builds it: the platform's own endpoints (here the Redis stand-in) refused.
    policy = HostPolicy.from_setting(
        TEST_WEB_ALLOWED_HOSTS, "WEB_ALLOWED_HOSTS", [Target("127.0.0.1", servers.ports()["redis"])]
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(driver, "chrome_options", trusting(driver.chrome_options))
        started = make_driver(policy=policy)
    try:
        yield started
    finally:
        started.quit()


class Fresh:
    """The module's browser for one run: one blank window on entry, not quit on exit."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.take_refusals, self.take_unreachable = browser.take_refusals, browser.take_unreachable

    def __enter__(self):
        driver = self.browser.driver
        for handle in driver.window_handles[1:]:
            driver.switch_to.window(handle)
            driver.close()
        driver.switch_to.window(driver.window_handles[0])
        driver.get("about:blank")
        return driver

    def __exit__(self, *exc_info: object) -> None:
        pass


def run(browser: Browser, servers, *commands: tuple[str, str, str]):
    script = {"commands": [{"command": c, "target": t, "value": v} for c, t, v in commands]}
    return run_script(script, lambda: Fresh(browser), base_url=servers.base, implicit_wait_ms=2000)


def assert_blocked(result, *, naming: str, at_a_step: bool = True) -> None:
    """The run ended in error naming the policy and what it refused, and shows nothing of the target."""
    assert result.state == ERROR, result.to_dict()
    assert result.error_code == "target_blocked"
    assert result.message.startswith(BLOCKED) and naming in result.message, result.message
    if at_a_step:
        assert result.steps[-1].state == ERROR and result.steps[-1].message == result.message
    shown = json.dumps(result.to_dict())  # steps, messages, console log, echo log, variables
    assert PASSWD not in shown and FORBIDDEN not in shown


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "data:text/html,<b>x</b>", "view-source:http://127.0.0.1/", "chrome://version",
     "javascript:alert(1)", "about:version", "filesystem:http://127.0.0.1/temporary/x"],
)  # fmt: skip
def test_open_refuses_every_scheme_but_http_before_chromium_sees_it(browser, servers, url):
    result = run(browser, servers, ("open", url, ""), ("assertText", "css=body", "x"))
    assert_blocked(result, naming=f" {url.split(':')[0]}: URL:")
    assert len(result.steps) == 1
    assert browser.driver.current_url == "about:blank"


def test_a_redirect_to_a_file_is_refused_by_the_proxy(browser, servers):
    result = run(
        browser, servers, ("open", page("/redirect", "file:///etc/passwd"), ""), ("assertText", "css=body", "x")
    )
    assert_blocked(result, naming="a redirect to a file: URL")
    # The page left on screen (and in the step's screenshot) is the policy's, nothing of the file.
    assert browser.driver.find_element("css selector", "body").text == "blocked by WEB_ALLOWED_HOSTS"


@pytest.mark.parametrize("how", ["open", "/go", "/frame"])
def test_an_https_redirect_to_a_file_is_a_policy_error(browser, servers, how):
    """The proxy sees only a tunnel; Chromium refuses the redirect (net::ERR_UNSAFE_REDIRECT) and the run says so."""
    to_file = f"{servers.https_base}/to-file"
    result = run(browser, servers, ("open", to_file if how == "open" else page(how, to_file), ""),
                 ("pause", "300", ""), ("assertTitle", "site", ""))  # fmt: skip
    assert_blocked(result, naming="a redirect to a file: URL")
    assert result.failed_step == 0 and "Chromium refused to follow it" in result.message
    assert "passwd" not in json.dumps(result.to_dict())
    for handle in browser.driver.window_handles:
        browser.driver.switch_to.window(handle)
        assert PASSWD not in browser.driver.find_element("css selector", "body").text


def test_an_unreachable_https_host_is_still_a_network_error(browser, servers):
    port = closed_port()
    result = run(browser, servers, ("open", f"https://127.0.0.1:{port}/", ""))
    assert result.state == ERROR and result.error_code is None
    assert result.message == f"Cannot reach 127.0.0.1:{port}: connection refused"


@pytest.mark.parametrize("target", ["data:text/html,<h1>data</h1>", "http://127.0.0.2:{loopback}/"])
def test_a_refused_popup_ends_the_step_that_opened_it(browser, servers, target):
    """chromedriver hears of a popup only when it looks at the windows: the guard looks after every step."""
    url = target.format(**servers.ports())
    result = run(browser, servers, ("open", page("/click-open", url), ""), ("click", "id=b", ""),
                 ("pause", "300", ""), ("assertTitle", "site", ""))  # fmt: skip
    assert_blocked(result, naming="URL" if "127.0.0.2" not in url else "127.0.0.2")
    assert result.failed_step == 1 and len(result.steps) == 2, result.to_dict()


@pytest.mark.parametrize("path", ["/frame", "/go", "/open", "/fetch", "/link"])
def test_chromium_itself_refuses_a_page_loading_a_file(browser, servers, path):
    """No proxy sees these: Chromium refuses file: to pages (and says so in the console, which the run reads)."""
    steps = [("open", page(path, "file:///etc/passwd"), ""), ("pause", "300", "")]
    if path == "/link":
        steps.insert(1, ("click", "id=a", ""))
    result = run(browser, servers, *steps)
    assert_blocked(result, naming="a file: URL: Chromium refused")
    assert all(not browser.driver.current_url.startswith("file:") for _ in browser.driver.window_handles)


@pytest.mark.parametrize("path", ["/go", "/open"])
def test_chromium_refuses_a_page_navigating_its_top_frame_to_data(browser, servers, path):
    result = run(browser, servers, ("open", page(path, "data:text/html,<h1>data</h1>"), ""), ("pause", "300", ""))
    assert_blocked(result, naming="a data: URL")


@pytest.mark.parametrize("url", ["view-source:http://127.0.0.1/", "chrome://version"])
def test_chromium_refuses_a_page_navigating_to_browser_urls(browser, servers, url):
    result = run(browser, servers, ("open", page("/go", url), ""), ("pause", "300", ""))
    assert_blocked(result, naming="URL: Chromium refused")


@pytest.mark.parametrize(
    "path, target",
    [("/fetch", "http://169.254.169.254/latest/meta-data/"), ("/fetch", "http://127.0.0.2:{loopback}/"),
     ("/fetch", "http://[::ffff:127.0.0.2]:{loopback}/"), ("/go", "http://127.0.0.1:{redis}/"),
     ("/open", "http://127.0.0.2:{loopback}/"), ("/post", "http://127.0.0.2:{loopback}/"),
     ("/frame", "http://127.0.0.2:{loopback}/"), ("/socket", "ws://127.0.0.2:{loopback}/"),
     ("/fetch", "https://127.0.0.2:{loopback}/"), ("/redirect", "http://127.0.0.2:{loopback}/")],
)  # fmt: skip
def test_a_page_reaching_a_refused_host_ends_the_run_in_error(browser, servers, path, target):
    url = target.format(**servers.ports())
    result = run(browser, servers, ("open", page(path, url), ""), ("pause", "500", ""), ("assertTitle", "site", ""))
    shown_as = {"169.254.169.254": "169.254.169.254", "[::ffff:127.0.0.2]": "127.0.0.2"}
    host = next((v for k, v in shown_as.items() if k in url), urlsplit(url).hostname)
    assert_blocked(result, naming=str(host))
    if "{redis}" in target:
        assert "platform's own endpoints" in result.message


def test_the_browsers_own_control_ports_are_refused(browser, servers):
    chromedriver = browser.service.port  # a page driving chromedriver could start a browser of its own
    result = run(browser, servers, ("open", page("/fetch", f"http://127.0.0.1:{chromedriver}/status"), ""),
                 ("pause", "500", ""))  # fmt: skip
    assert_blocked(result, naming=f"127.0.0.1:{chromedriver}")


def test_allowed_pages_pass_through_the_proxy(browser, servers):
    result = run(
        browser,
        servers,
        ("open", page("/redirect", "/plain"), ""),
        ("assertText", "id=title", "ok"),
        ("open", page("/fetch", "/plain"), ""),
        ("waitForText", "id=out", "*ok*"),
    )
    assert result.state in (PASSED, "failed"), result.message
    assert result.steps[1].state == PASSED
    assert "ok" in browser.driver.find_element("id", "out").text


@pytest.mark.parametrize("command, locator", [("type", "id=f"), ("sendKeys", "id=f"), ("type", "id=t")])
def test_a_file_upload_is_refused(browser, servers, command, locator):
    """chromedriver uploads any path it is given, and the page can read it back."""
    result = run(browser, servers, ("open", "/upload", ""), (command, locator, "/etc/passwd"), ("pause", "300", ""))
    assert result.state == ERROR and "File uploads are refused" in result.message
    assert PASSWD not in json.dumps(result.to_dict())
    assert PASSWD not in browser.driver.find_element("id", "out").text


def closed_port() -> int:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        return placeholder.getsockname()[1]  # closed again: nothing listens there


def popup_steps(how: str, url: str) -> list[tuple[str, str, str]]:
    """The steps that open a popup to url: a click that opens it, or a page that opens it as it loads."""
    if how == "click":
        return [("open", page("/click-open", url), ""), ("click", "id=b", "")]
    return [("open", page("/open", url), "")]


@pytest.mark.parametrize("before", ["nothing", "a run with a popup"])
@pytest.mark.parametrize("how", ["click", "load"])
def test_an_https_popup_redirected_to_a_file_is_a_policy_error(browser, servers, how, before):
    """Chromium refuses the popup's redirect, often before chromedriver attaches to it: no event, an error page.
    The step that opened it ends the run, in a browser a run with a popup used before too."""
    if before != "nothing":
        assert run(browser, servers, *popup_steps(how, f"{servers.https_base}/plain")).state == PASSED
    opener = popup_steps(how, f"{servers.https_base}/to-file")
    result = run(browser, servers, *opener, ("pause", "300", ""), ("assertTitle", "site", ""))
    assert_blocked(result, naming="redirect to a")  # read from the window, or its events if chromedriver heard
    assert result.failed_step == len(opener) - 1 and len(result.steps) == len(opener), result.to_dict()
    assert "passwd" not in json.dumps(result.to_dict()) and "/to-file" not in result.message
    assert browser.driver.title == "site"  # still in the opener: the guard did not switch windows


@pytest.mark.parametrize("how", ["click", "load"])
def test_an_unreachable_popup_is_not_a_policy_error(browser, servers, how):
    """A popup's load that failed because its allowed host did not answer fails no step, as before."""
    result = run(browser, servers, *popup_steps(how, f"https://127.0.0.1:{closed_port()}/"),
                 ("pause", "300", ""), ("assertTitle", "site", ""))  # fmt: skip
    assert result.state == PASSED and result.error_code is None, result.to_dict()


@pytest.mark.parametrize("how", ["click", "load"])
def test_a_popup_to_an_allowed_page_is_no_error(browser, servers, how):
    result = run(browser, servers, *popup_steps(how, f"{servers.https_base}/plain"), ("assertTitle", "site", ""))
    assert result.state == PASSED, result.to_dict()


def test_the_final_screenshot_of_a_refused_run_shows_the_policys_page(browser, servers):
    """A failing run's last screenshot follows the rule its steps' do: it shows what the proxy answered."""
    result = run(browser, servers, ("open", page("/redirect", "file:///etc/passwd"), ""))
    assert_blocked(result, naming="a redirect to a file: URL")
    assert browser.driver.find_element("css selector", "body").text == "blocked by WEB_ALLOWED_HOSTS"
    assert result.final_screenshot is not None
    assert result.final_screenshot == browser.driver.get_screenshot_as_png()  # the page on screen: the policy's
