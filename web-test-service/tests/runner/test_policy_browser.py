"""The web target policy in a real Chromium behind its proxy: what a page may not reach, and what the run says."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from shared.host_policy import HostPolicy, Target
from shared.testing import TEST_WEB_ALLOWED_HOSTS
from web_test_service.runner import ERROR, PASSED, run_script
from web_test_service.runner.driver import Browser, make_driver

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PASSWD = "root:x:0:0"  # the first line of /etc/passwd: never in anything a run shows
FORBIDDEN = "FORBIDDEN-CONTENT"  # what the servers the policy refuses would answer
BLOCKED = "Blocked by WEB_ALLOWED_HOSTS"

# Pages of the allowed site; {url} is the target given in ?url=.
SCRIPTS = {
    "/go": "<script>location.href = {url}</script>",
    "/frame": "<iframe id=f src={url}></iframe>",
    "/open": "<script>window.open({url})</script>",
    "/fetch": "<div id=out>waiting</div><script>fetch({url}).then(r => r.text()).then(t => out.textContent = t,"
    " e => out.textContent = 'failed')</script>",
    "/post": "<form id=f method=post action={url}><input name=q value=1></form><script>f.submit()</script>",
    "/socket": "<div id=out>waiting</div><script>var s = new WebSocket({url}); s.onmessage = e => "
    "out.textContent = e.data; s.onerror = () => out.textContent = 'failed'</script>",
    "/link": "<a id=a href={url}>go</a>",
}


class SiteHandler(BaseHTTPRequestHandler):
    """The allowed site: /redirect?url=X answers 302 to X, the SCRIPTS pages do what they say with ?url=."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        url = parse_qs(parts.query).get("url", [""])[0]
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", url)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path == "/upload":
            body = "<input type=file id=f><input id=t><pre id=out></pre><script>f.onchange = () => "
            body += "f.files[0].text().then(t => out.textContent = t)</script>"
        else:
            body = SCRIPTS.get(parts.path, "<h1 id=title>ok</h1>").format(url=json.dumps(url))
        data = f"<!doctype html><html><head><title>site</title></head><body>{body}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class Answering(socketserver.BaseRequestHandler):
    """A server the policy refuses: it would answer any connection with FORBIDDEN, and counts them."""

    def handle(self) -> None:
        self.server.connections += 1  # type: ignore[attr-defined]
        self.request.sendall(f"HTTP/1.0 200 OK\r\nContent-Length: {len(FORBIDDEN)}\r\n\r\n{FORBIDDEN}".encode())


def serve(server):
    server.daemon_threads = True
    server.connections = 0
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, int]]:
    site = serve(ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler))
    loopback = serve(socketserver.ThreadingTCPServer(("127.0.0.2", 0), Answering))  # loopback, not named
    redis = serve(socketserver.ThreadingTCPServer(("127.0.0.1", 0), Answering))  # stands in for Redis
    yield {"site": site.server_address[1], "loopback": loopback.server_address[1], "redis": redis.server_address[1]}
    assert loopback.connections == 0 and redis.connections == 0, "a refused server was reached"
    for server in (site, loopback, redis):
        server.shutdown()


@pytest.fixture(scope="module")
def browser(servers) -> Iterator[Browser]:
    # As WebTestSettings.host_policy builds it: the platform's own endpoints (here the Redis stand-in) refused.
    policy = HostPolicy.from_setting(
        TEST_WEB_ALLOWED_HOSTS, "WEB_ALLOWED_HOSTS", [Target("127.0.0.1", servers["redis"])]
    )
    started = make_driver(policy=policy)
    yield started
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
    return run_script(
        script, lambda: Fresh(browser), base_url=f"http://127.0.0.1:{servers['site']}", implicit_wait_ms=2000
    )


def assert_blocked(result, *, naming: str, at_a_step: bool = True) -> None:
    """The run ended in error naming the policy and what it refused, and shows nothing of the target."""
    assert result.state == ERROR, result.to_dict()
    assert result.error_code == "target_blocked"
    assert result.message.startswith(BLOCKED) and naming in result.message, result.message
    if at_a_step:
        assert result.steps[-1].state == ERROR and result.steps[-1].message == result.message
    shown = json.dumps(result.to_dict())  # steps, messages, console log, echo log, variables
    assert PASSWD not in shown and FORBIDDEN not in shown


def page(path: str, url: str) -> str:
    return f"{path}?url={quote(url, safe='')}"


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
    # A refused popup reaches the run only after its last step (policy.py, PolicyGuard.violation).
    assert_blocked(result, naming="a data: URL", at_a_step=path != "/open")


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
    url = target.format(**servers)
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
