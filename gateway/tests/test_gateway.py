"""The real nginx gateway, rendered from the template, in front of the real service APIs."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from shared.migrations import upgrade
from shared.testing import BackgroundProcess, free_port, service_env, wait_for_http
from tests.platform.services import SERVICES

pytestmark = pytest.mark.timeout(180)
GATEWAY_DIR = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _render_module():
    spec = importlib.util.spec_from_file_location("gateway_render", GATEWAY_DIR / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def platform(tmp_path_factory, redis_server):
    """Three gunicorn APIs and nginx; the perf-test upstream is stopped to test 502."""
    tmp = tmp_path_factory.mktemp("gateway")
    ports = {s.name: free_port() for s in SERVICES}
    apis = []
    for service in SERVICES:
        db = f"sqlite:///{tmp / service.name}.db"
        upgrade(service.package, db)
        env = service_env(redis_server.url, db, tmp)
        args = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{ports[service.name]}", "--workers", "1",
                service.wsgi]  # fmt: skip
        apis.append(BackgroundProcess(args, env).start())
    gw_port = free_port()
    env = {
        "GATEWAY_PORT": str(gw_port),
        "GATEWAY_MAX_BODY": "1k",
        "WEB_TEST_UPSTREAM": f"127.0.0.1:{ports['web-test']}",
        "PERF_TEST_UPSTREAM": f"127.0.0.1:{free_port()}",  # nothing listens there
        "SCHEDULER_UPSTREAM": f"127.0.0.1:{ports['scheduler']}",
        "FLOWER_UPSTREAM": f"127.0.0.1:{free_port()}",
        "FLOWER_BASIC_AUTH": "ops:secret",
    }
    conf = _render_module().render(tmp / "nginx", env)
    subprocess.run([NGINX, "-t", "-q", "-p", str(tmp / "nginx"), "-c", str(conf)], check=True)
    nginx = BackgroundProcess([NGINX, "-p", str(tmp / "nginx"), "-c", str(conf), "-e", "stderr"]).start()
    base = f"http://127.0.0.1:{gw_port}"
    for name in ("web-test", "scheduler"):
        wait_for_http(f"{base}/api/v1/{name}/health", 60, status=200)
    yield {"base": base, "apis": apis, "prefix": tmp / "nginx"}
    nginx.stop()
    for api in apis:
        api.stop()


def _is_error_json(resp, code):
    body = resp.json()
    return resp.headers["Content-Type"].startswith("application/json") and body["error"]["code"] == code


def test_each_route_reaches_its_service(platform):
    base = platform["base"]
    for path, service in [
        ("/api/v1/web-test/health", "web-test"),
        ("/api/v1/scheduler/health", "scheduler"),
        ("/api/v1/schedules", "scheduler"),
        ("/api/v1/schedules/abc/trigger", "scheduler"),
    ]:
        resp = requests.get(base + path, timeout=10)
        assert resp.headers.get("X-TestFleet-Service") == service, path


def test_unknown_path_is_json_404(platform):
    resp = requests.get(platform["base"] + "/no/such/path", timeout=10)
    assert resp.status_code == 404 and _is_error_json(resp, "not_found")


def test_stopped_upstream_is_json_502(platform):
    resp = requests.get(platform["base"] + "/api/v1/perf-test/health", timeout=10)
    assert resp.status_code == 502 and _is_error_json(resp, "bad_gateway")


def test_oversized_body_is_json_413(platform):
    resp = requests.post(platform["base"] + "/api/v1/web-test/me", data=b"x" * 4096, timeout=10)
    assert resp.status_code == 413 and _is_error_json(resp, "payload_too_large")


def test_request_id_is_set_and_forwarded(platform):
    base = platform["base"]
    given = requests.get(base + "/api/v1/web-test/health", headers={"X-Request-Id": "trace-42"}, timeout=10)
    assert given.headers["X-Request-Id"] == "trace-42"
    made = requests.get(base + "/api/v1/web-test/health", timeout=10)
    assert len(made.headers["X-Request-Id"]) == 32
    assert "," not in made.headers["X-Request-Id"]  # sent back once, not by nginx and the service
    web_log = platform["apis"][0].log.read_text()
    logged = [json.loads(line) for line in web_log.splitlines() if line.startswith("{")]
    assert {"trace-42", made.headers["X-Request-Id"]} <= {e.get("request_id") for e in logged}


def test_flower_metrics_need_credentials(platform):
    resp = requests.get(platform["base"] + "/flower/metrics", timeout=10)
    assert resp.status_code == 401
    # With credentials nginx passes the request on; Flower is not running here, so 502.
    resp = requests.get(platform["base"] + "/flower/metrics", auth=("ops", "secret"), timeout=10)
    assert resp.status_code == 502 and _is_error_json(resp, "bad_gateway")
