"""Fixtures of the perf-test suites: a real nginx target, the API app on a fresh database, a real worker."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_test_service.config import PerfTestSettings
from shared.testing import free_port, migrated_app, service_env, service_settings, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

_NGINX_CONF = """
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = / {{ return 200 "ok\\n"; }}
        location = /items {{ return 201 "created\\n"; }}
        location = /missing {{ return 404 "missing\\n"; }}
        # A redirect towards the cloud metadata address: the generated locustfile must not follow it.
        location = /redirect {{ return 302 http://169.254.169.254/latest/meta-data/; }}
    }}
}}
"""


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@pytest.fixture(scope="module")
def nginx_target(tmp_path_factory) -> Iterator[str]:
    """Run nginx as a plain foreground process on a free port; yield its base URL."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is required for the Locust tests (apt-get install --no-install-recommends nginx)")
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(_NGINX_CONF.format(prefix=prefix, port=port))
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_until(lambda: port_open(port), 10, 0.05, what=f"nginx on port {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()  # SIGTERM = fast shutdown for nginx
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture()
def settings(redis_url, database_url, tmp_path):
    return service_settings(PerfTestSettings, redis_url, database_url, tmp_path)


@pytest.fixture()
def app(settings):
    with migrated_app("perf_test_service", settings) as app:
        yield app


@pytest.fixture()
def perf_env(redis_url, database_url, tmp_path):
    return service_env(redis_url, database_url, tmp_path)


@pytest.fixture()
def perf_worker(start_worker, perf_env, app):
    """A real Celery worker on queue 'perf' sharing the test's database and Redis."""
    return start_worker("perf_test_service.worker", "perf", perf_env)
