"""Fixtures of the scheduler suites: the API on a fresh database and a real HTTP target."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scheduler_service.config import SchedulerSettings
from shared.testing import migrated_app, service_settings

# webhook_recipe.py sits beside this file; --import-mode=importlib puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))


class TargetServer:
    """A real HTTP server standing in for a service's run endpoint: records and answers."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 202
        self.body: dict = {"run_id": "run-1", "task_id": "task-1", "state": "queued"}
        self._lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with target._lock:
                    target.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "json": json.loads(raw or b"null")}
                    )
                    status, body = target.status, target.body
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, status: int, body: dict) -> None:
        with self._lock:
            self.status, self.body = status, body


@pytest.fixture()
def target():
    server = TargetServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture()
def settings_overrides(target) -> dict:
    """Settings tests may extend; firings go to the test's target server."""
    return {"web_test_url": target.url, "perf_test_url": target.url}


@pytest.fixture()
def settings(redis_url, database_url, tmp_path, settings_overrides):
    return service_settings(SchedulerSettings, redis_url, database_url, tmp_path, **settings_overrides)


@pytest.fixture()
def app(settings):
    with migrated_app("scheduler_service", settings) as app:
        yield app


@pytest.fixture()
def session(app):
    db = app.extensions["db"]
    yield db.session
    db.session.remove()
