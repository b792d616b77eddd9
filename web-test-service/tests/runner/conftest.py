"""Fixtures for the runner tests: a fake browser, a static site on a free port and a shared headless Chromium."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from selenium.common.exceptions import NoAlertPresentException

from shared.host_policy import HostPolicy
from shared.testing import TEST_WEB_ALLOWED_HOSTS, require_executable
from web_test_service.runner import engine
from web_test_service.runner.driver import DEFAULT_CHROMEDRIVER, Browser, make_driver

# fake_driver.py sits beside this file; --import-mode=importlib puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
from fake_driver import FakeBrowser

PAGES: dict[str, str] = {
    "/form.html": """<!doctype html><html><head><title>Form page</title></head><body>
<h1 id="title">Hello</h1>
<input id="name" name="username" value="">
<input id="readonly" value="fixed" readonly>
<input id="disabled" disabled>
<input type="checkbox" id="agree">
<select id="color"><option value="r">Red</option><option value="g" id="green">Green</option>
<option value="b">Blue</option></select>
<select id="multi" multiple><option value="a">A</option><option value="b">B</option></select>
<div id="editable" contenteditable="true">old</div>
<input id="keys"
 onkeydown="if (event.key === 'Enter') document.getElementById('out').textContent = 'enter:' + this.value">
<button id="show" onclick="setTimeout(function(){document.getElementById('later').style.display='block'}, 300)">
Show</button>
<div id="later" style="display:none">Later text</div>
<button id="remove" onclick="setTimeout(function(){var e=document.getElementById('gone'); e.remove()}, 300)">
Remove</button>
<div id="gone">Going</div>
<a id="link" href="/other.html">Go to other page</a>
<ul><li class="item">1</li><li class="item">2</li><li class="item">3</li></ul>
<form id="search" action="/other.html" method="get"><input name="q" id="q"></form>
<div id="out"></div>
<script>console.error("boom from page");</script>
</body></html>""",
    "/other.html": """<!doctype html><html><head><title>Other page</title></head><body>
<h1 id="title">Other</h1></body></html>""",
    "/mouse.html": """<!doctype html><html><head><title>Mouse</title></head><body style="margin:0">
<div id="target" style="position:absolute;left:100px;top:100px;width:200px;height:100px;background:#ccc"></div>
<div id="src" style="position:absolute;left:100px;top:300px;width:50px;height:50px;background:red"></div>
<div id="dst" style="position:absolute;left:300px;top:300px;width:50px;height:50px;background:blue"></div>
<div id="log" style="position:absolute;left:0;top:500px"></div>
<script>
var log = [];
function note(t) { log.push(t); document.getElementById('log').textContent = log.join(' '); }
var t = document.getElementById('target');
['dblclick','mousedown','mouseup','mouseover','mouseout'].forEach(function(n){
  t.addEventListener(n, function(){ note(n); }); });
t.addEventListener('click', function(e){ note('click@' + Math.round(e.offsetX) + ',' + Math.round(e.offsetY)); });
var dragging = false;
document.getElementById('src').addEventListener('mousedown', function(){ dragging = true; });
document.getElementById('dst').addEventListener('mouseup', function(){ if (dragging) note('dropped'); });
</script></body></html>""",
    "/dialogs.html": """<!doctype html><html><head><title>Dialogs</title></head><body>
<button id="alert" onclick="alert('Hello alert')">alert</button>
<button id="confirm" onclick="document.getElementById('out').textContent = confirm('Sure?') ? 'yes' : 'no'">
confirm</button>
<button id="prompt" onclick="var a = prompt('Name?'); document.getElementById('out').textContent = String(a)">
prompt</button>
<div id="out"></div></body></html>""",
    "/frames.html": """<!doctype html><html><head><title>Frames</title></head><body>
<h1 id="title">Top</h1><iframe id="frame1" src="/inner.html"></iframe></body></html>""",
    "/inner.html": """<!doctype html><html><body><p id="inner">Inner</p>
<iframe id="frame2" src="/deep.html"></iframe></body></html>""",
    "/deep.html": """<!doctype html><html><body><p id="deep">Deep</p></body></html>""",
    "/windows.html": """<!doctype html><html><head><title>Windows</title></head><body>
<a id="popup" href="/other.html" target="_blank">open</a></body></html>""",
}


# The test sites are on loopback, which WEB_ALLOWED_HOSTS admits only when named.
LOOPBACK_POLICY = HostPolicy.from_setting(TEST_WEB_ALLOWED_HOSTS, "WEB_ALLOWED_HOSTS")


class SiteHandler(BaseHTTPRequestHandler):
    """Serves PAGES; /slow holds the response until the server shuts down (a page that never loads)."""

    server: Site

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/slow":
            self.server.stopping.wait(60)
            return
        body = PAGES.get(path)
        if body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class Site(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SiteHandler)
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    server = Site()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server
    server.stopping.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="class")
def shared_browser() -> Iterator[Browser]:
    require_executable(DEFAULT_CHROMEDRIVER)
    browser = make_driver(policy=LOOPBACK_POLICY)
    yield browser
    browser.quit()


def reset(browser: Browser) -> None:
    """Bring a reused browser back to one blank window with no dialog and no cookies."""
    driver = browser.driver
    with suppress(NoAlertPresentException):
        driver.switch_to.alert.dismiss()
    handles = driver.window_handles
    for handle in handles[1:]:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(handles[0])
    driver.get("about:blank")
    driver.delete_all_cookies()
    driver.get_log("browser")


class Reused:
    """The class's browser as a run gets it: reset on entry, not quit on exit, its proxy's refusals reported."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.take_refusals, self.take_unreachable = browser.take_refusals, browser.take_unreachable

    def __enter__(self):
        reset(self.browser)
        return self.browser.driver

    def __exit__(self, *exc_info: object) -> None:
        pass


@pytest.fixture()
def reused_browser(shared_browser: Browser):
    """A driver_factory that hands out the class's browser without quitting it."""
    return lambda: Reused(shared_browser)


@pytest.fixture()
def chromium() -> None:
    """Require Chromium for a test that starts its own browsers."""
    require_executable(DEFAULT_CHROMEDRIVER)


@pytest.fixture()
def fake_browser() -> FakeBrowser:
    """An in-memory browser: pass fake_browser.factory as run_script's driver_factory."""
    return FakeBrowser()


@pytest.fixture()
def fast_stop_checks(monkeypatch) -> None:
    """Ask should_stop at every check (the engine rate-limits it to spare Redis) and abort stuck calls at once."""
    monkeypatch.setattr(engine, "STOP_CHECK_INTERVAL_S", 0.0)
    monkeypatch.setattr(engine, "WATCHDOG_GRACE_S", 0.05)
