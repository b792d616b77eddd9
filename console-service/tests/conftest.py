"""Fixtures of the console suites: the app on a fresh database and a Redis of its own, and a logged-in client."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from console_service.config import ConsoleSettings
from shared.testing import RedisServer, migrated_app, require_executable, service_settings
from tests.harness import Platform

# console_harness.py sits beside this file; --import-mode=importlib puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
from console_browser import CHROMEDRIVER, ConsoleBrowser, start_chromium
from console_harness import ADMIN_PASSWORD, log_in


@pytest.fixture()
def settings(redis_url, database_url, tmp_path):
    return service_settings(ConsoleSettings, redis_url, database_url, tmp_path)


@pytest.fixture()
def app(settings):
    with migrated_app("console_service", settings) as app:
        yield app


@pytest.fixture()
def admin_client(app):
    client = app.test_client()
    assert log_in(client).status_code == 302
    return client


# --- end to end: the whole platform as `make up` starts it, and a real Chromium on the console -----------------


@pytest.fixture(scope="session")
def platform(tmp_path_factory) -> Iterator[Platform]:
    """One `make up` for the console's browser tests, with a Redis of its own and a known admin password."""
    redis = RedisServer(tmp_path_factory.mktemp("console-redis"))
    redis.start()
    extra = {"WEB_WORKER_CONCURRENCY": "2", "TESTFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD}
    running = Platform(tmp_path_factory.mktemp("console-platform") / "var", redis.url, extra)
    try:
        running.start()
        yield running
    finally:
        left = running.stop()
        redis.stop()
    assert not left, f"processes left after Ctrl-C: {left}"


@pytest.fixture()
def browser(platform) -> Iterator[ConsoleBrowser]:
    """A fresh Chromium (no cookies) on the console, through the gateway."""
    require_executable(CHROMEDRIVER)
    driver = start_chromium()
    try:
        yield ConsoleBrowser(driver, platform.gateway)
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Iterator[str]:
    """Pages for the web runs the console starts: / has the title 'acceptance' and a paragraph #p."""
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text('<html><head><title>acceptance</title></head><body><p id="p">hello</p>'
                                     '<script>console.log("page says hi")</script></body></html>')  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass
