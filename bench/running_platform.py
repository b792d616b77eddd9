"""Benchmarks' access to a running TestFleet: reuse one at TESTFLEET_URL or start `make up` for the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("web-test", "perf-test", "scheduler")


class Api:
    """A tiny JSON client for the gateway with a bearer token."""

    def __init__(self, base: str, token: str):
        self.base, self.token = base.rstrip("/"), token

    def call(self, method: str, path: str, body=None, raw: bool = False):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                payload = resp.read()
                return resp.status, payload if raw else json.loads(payload or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


def ready(base: str) -> bool:
    try:
        for service in SERVICES:
            with urllib.request.urlopen(f"{base}/api/v1/{service}/ready", timeout=3):
                pass
        return True
    except (OSError, urllib.error.HTTPError):
        return False


@contextmanager
def running_platform(timeout_s: float = 300):
    """Yield an Api on a ready platform; start (and afterwards stop) `make up` if none answers."""
    base = os.environ.get("TESTFLEET_URL", f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8080')}")
    started = None
    if not ready(base):
        log = open("/tmp/testfleet-bench-up.log", "wb")  # noqa: SIM115 (closed below)
        started = subprocess.Popen(["make", "-s", "up"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while not ready(base):
            if started.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the platform did not become ready; see /tmp/testfleet-bench-up.log")
            time.sleep(1)
    token = subprocess.run(["make", "-s", "token", "USER=bench", "ROLE=admin"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.strip().splitlines()[-1]  # fmt: skip
    try:
        yield Api(base, token)
    finally:
        if started is not None:
            os.killpg(started.pid, signal.SIGINT)
            started.wait(60)


NGINX_CONF = """daemon off; worker_processes 1; pid {p}/nginx.pid; error_log {p}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; client_body_temp_path {p}/cb; proxy_temp_path {p}/px; fastcgi_temp_path {p}/fc;
uwsgi_temp_path {p}/uw; scgi_temp_path {p}/sc; include /etc/nginx/mime.types;
server {{ listen 127.0.0.1:{port}; {location} }} }}
"""


@contextmanager
def nginx(location: str):
    """A real nginx on a free port with one server block body; yield its base URL."""
    import shutil
    import socket
    import tempfile

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    (prefix / "nginx.conf").write_text(NGINX_CONF.format(p=prefix, port=port, location=location))
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(prefix, ignore_errors=True)


def wait_terminal(api: Api, path: str, timeout_s: float = 600, poll_s: float = 0.05) -> dict:
    """Poll a status endpoint until the run is settled."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code, status = api.call("GET", path)
        if code == 200 and status.get("state") not in (None, "queued", "running"):
            return status
        time.sleep(poll_s)
    raise TimeoutError(f"{path} did not settle in {timeout_s}s")


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
