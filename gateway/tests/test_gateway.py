"""The real nginx gateway, rendered from the template, in front of the real service APIs."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from shared.migrations import upgrade
from shared.testing import BackgroundProcess, free_port, service_env, wait_for_http
from tests.platform.services import CONSOLE, SERVICES

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
    """The gunicorn APIs and the console behind nginx; the perf-test upstream is stopped to test 502."""
    tmp = tmp_path_factory.mktemp("gateway")
    ports = {s.name: free_port() for s in [*SERVICES, CONSOLE]}
    apis = []
    for service in [*SERVICES, CONSOLE]:
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
        "CONSOLE_UPSTREAM": f"127.0.0.1:{ports['console']}",
        "FLOWER_UPSTREAM": f"127.0.0.1:{free_port()}",
        "FLOWER_BASIC_AUTH": "ops:secret",
    }
    conf = _render_module().render(tmp / "nginx", env)
    subprocess.run([NGINX, "-t", "-q", "-p", str(tmp / "nginx"), "-c", str(conf)], check=True)
    nginx = BackgroundProcess([NGINX, "-p", str(tmp / "nginx"), "-c", str(conf), "-e", "stderr"]).start()
    base = f"http://127.0.0.1:{gw_port}"
    for name in ("web-test", "scheduler", "auth"):
        wait_for_http(f"{base}/api/v1/{name}/health", 60, status=200)
    yield {"base": base, "apis": apis, "prefix": tmp / "nginx", "databases": {s.name: f"sqlite:///{tmp / s.name}.db"
                                                                           for s in SERVICES}}  # fmt: skip
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
        ("/api/v1/auth/health", "console"),
        ("/api/v1/auth/tokens", "console"),
        ("/", "console"),
        ("/login", "console"),
        ("/projects/x", "console"),
    ]:
        resp = requests.get(base + path, timeout=10)
        assert resp.headers.get("X-TestFleet-Service") == service, path


def test_unknown_api_path_is_json_404(platform):
    resp = requests.get(platform["base"] + "/api/no/such/path", timeout=10)
    assert resp.status_code == 404 and _is_error_json(resp, "not_found")


def test_other_paths_are_the_console_s_pages(platform):
    login = requests.get(platform["base"] + "/login", timeout=10)
    assert login.status_code == 200 and login.headers["Content-Type"].startswith("text/html")
    missing = requests.get(platform["base"] + "/no/such/page", timeout=10)
    assert missing.status_code == 404 and "Something went wrong (404)" in missing.text


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


def _raw_get(base: str, target: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send a request line exactly as given (no client-side quoting); return status, headers and body."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        request_line = (b"POST " if body else b"GET ") + target + b" HTTP/1.1\r\n"
        header_lines = f"Host: gw\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        conn.sendall(request_line + header_lines + body)
        raw = b""
        while chunk := conn.recv(65536):
            raw += chunk
    head, _, payload = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, payload


# Paths a JSON body must survive: quotes, backslashes, control characters and non-UTF-8 bytes, encoded or raw.
HOSTILE_PATHS = [b"/a%22b", b'/a"b', b"/a%5Cb", b"/a\\b", b"/a%0A%22%7D", b"/a%00b", b"/%FF%FE", b"/\xc3\xa9\xff"]
HOSTILE_PATHS.append(b"/x?q=%22&r=\\")  # in the query string too


@pytest.mark.parametrize("prefix", [b"/api", b"/api/v1/perf-test"], ids=["gateway-404", "upstream-down-502"])
@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_gateway_errors_are_valid_json_for_any_uri(platform, prefix, path):
    """The gateway wrote $uri into its JSON bodies unescaped: GET /a%22b answered invalid JSON (issue 11)."""
    status, headers, body = _raw_get(platform["base"], prefix + path)
    assert headers["content-type"].startswith("application/json"), (status, body)
    error = json.loads(body)["error"]
    # nginx itself refuses a NUL in the path (its JSON 400), so none reaches a service.
    upstream_down = prefix == b"/api/v1/perf-test"
    expected = (400, "bad_request") if b"%00" in path else (502, "bad_gateway") if upstream_down else (404, "not_found")
    assert (status, error["code"]) == expected, body


def test_too_large_body_is_valid_json_for_any_uri(platform):
    status, headers, body = _raw_get(platform["base"], b"/api/v1/web-test/a%22b", body=b"x" * 4096)
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"
    assert headers["content-type"].startswith("application/json")


def test_links_a_service_writes_keep_the_port_the_client_used(platform, auth_header):
    """The Host header reaches the service as sent (with its port): a project run's JUnit links its screenshot."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from web_test_service.models import ProjectRun, Run, Step

    suites = [{"name": "s", "parallel": False, "persist_session": False, "timeout_ms": 1000,
               "tests": [{"script_id": None, "name": "t"}]}]  # fmt: skip
    engine = create_engine(platform["databases"]["web-test"])
    with Session(engine) as session:
        project_run = ProjectRun(owner="alice", project_name="p", state="failed", suites=suites, params={})
        session.add(project_run)
        session.flush()
        run = Run(owner="alice", script_name="t", state="failed", priority=5, attempts=1, base_url="", variables={},
                  project_run_id=project_run.id, suite_index=0, position=0,
                  started_at=project_run.created_at)  # fmt: skip
        session.add(run)
        session.flush()
        session.add(Step(run_id=run.id, seq=0, index=0, command="open", state="failed", has_screenshot=True))
        session.commit()
        ids = project_run.id, run.id
    engine.dispose()
    resp = requests.get(f"{platform['base']}/api/v1/web-test/project-runs/{ids[0]}/junit.xml",
                        headers=auth_header("viewer"), timeout=10)  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert f'value="{platform["base"]}/api/v1/web-test/runs/{ids[1]}/steps/0/screenshot"' in resp.text
