"""Fixtures of the web-test suites: the API app on a fresh database, a real worker, a test site."""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.testing import TEST_WEB_ALLOWED_HOSTS, migrated_app, require_executable, service_env, service_settings
from web_test_service.config import WebTestSettings
from web_test_service.runner.driver import DEFAULT_CHROMEDRIVER

# grid.py and hostile_sites.py sit beside this file; --import-mode=importlib puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
from grid import running_grid

SITE_DIR = Path(__file__).parent / "site"


@pytest.fixture()
def settings(redis_url, database_url, tmp_path):
    return service_settings(
        WebTestSettings, redis_url, database_url, tmp_path, web_allowed_hosts=TEST_WEB_ALLOWED_HOSTS
    )


@pytest.fixture()
def app(settings):
    with migrated_app("web_test_service", settings) as app:
        yield app


@pytest.fixture(autouse=True)
def _chromium_for_browser_tests(request):
    """Tests marked `browser` need Chromium: skipped on a laptop without it, failed in CI."""
    if request.node.get_closest_marker("browser"):
        require_executable(DEFAULT_CHROMEDRIVER)


def _web_worker(start_worker, redis_url, database_url, tmp_path, concurrency: int):
    """A real Celery worker on queue 'web' sharing the test's database and Redis, with `concurrency` browser slots.

    Its temporary files (the browsers' profiles) go to a folder of its own, so a test can tell its
    worker's browsers from those of anything else running on the machine. The folder is short on
    purpose: Chromium's singleton socket lives in TMPDIR and a Unix socket path has at most 107 bytes.
    """
    temp_dir = tempfile.mkdtemp(prefix="tf-web-")
    try:
        env = service_env(redis_url, database_url, tmp_path, TMPDIR=temp_dir)
        yield start_worker("web_test_service.worker", "web", env, concurrency=concurrency)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture()
def web_worker(start_worker, redis_url, database_url, tmp_path, app):
    """A web worker with one browser slot (_web_worker)."""
    yield from _web_worker(start_worker, redis_url, database_url, tmp_path, 1)


@pytest.fixture()
def two_slot_worker(start_worker, redis_url, database_url, tmp_path, app):
    """A web worker with two browser slots, as `make up` starts it (_web_worker)."""
    yield from _web_worker(start_worker, redis_url, database_url, tmp_path, 2)


class QuietHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(SITE_DIR), **kwargs)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site():
    """The pages under tests/site, served on a free port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture()
def grid(tmp_path):
    """A real standalone Selenium Grid on a free port (its log in tmp_path), stopped after the test."""
    with running_grid(tmp_path / "grid.log") as started:
        print(f"Grid ready after {started.ready_after_s:.1f}s on {started.url}")
        yield started
