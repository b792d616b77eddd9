"""Fixtures of the web-test suites: the API app on a fresh database, a real worker, a test site."""

from __future__ import annotations

import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.migrations import upgrade
from shared.testing import service_env, service_settings
from web_test_service import create_app
from web_test_service.config import WebTestSettings

SITE_DIR = Path(__file__).parent / "site"


@pytest.fixture()
def settings(redis_url, database_url, tmp_path):
    return service_settings(WebTestSettings, redis_url, database_url, tmp_path)


@pytest.fixture()
def app(settings):
    upgrade("web_test_service", settings.sqlalchemy_url)
    app = create_app(settings)
    yield app
    app.extensions["db"].dispose()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def web_worker(start_worker, redis_url, database_url, tmp_path, app):
    """A real Celery worker on queue 'web' sharing the test's database and Redis."""
    env = service_env(redis_url, database_url, tmp_path)
    return start_worker("web_test_service.worker", "web", env)


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
