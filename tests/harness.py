"""The whole platform as a user starts it (`make up`), on free ports, for end-to-end suites."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import requests

from shared.auth import encode_token
from shared.testing import TEST_SECRET, TEST_WEB_ALLOWED_HOSTS, RedisServer, free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("web-test", "perf-test", "scheduler", "auth")


def descendants(pid: int) -> set[int]:
    """Every live process below pid."""
    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True) if alive(child.pid)}
    except psutil.NoSuchProcess:
        return set()


def alive(pid: int) -> bool:
    """pid runs and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class Platform:
    """`make up` running in its own process group; stop() is Ctrl-C."""

    var_dir: Path
    redis_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    processes: set[int] = field(default_factory=set)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['GATEWAY_PORT']}"

    @property
    def flower_auth(self) -> tuple[str, str]:
        return ("ops", "ops-password")

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.ports,
            "VAR_DIR": str(self.var_dir),
            "REDIS_URL": self.redis_url,
            "AUTH_SECRET": TEST_SECRET,
            "FLOWER_BASIC_AUTH": ":".join(self.flower_auth),
            # What scripts/up.sh would set, here explicitly so a worker a test starts beside the platform
            # (faults_helpers.own_worker) judges targets exactly as the platform's own workers do.
            "WEB_ALLOWED_HOSTS": TEST_WEB_ALLOWED_HOSTS,
            "WEBHOOK_ALLOWED_HOSTS": TEST_WEB_ALLOWED_HOSTS,  # the tests' receivers listen on loopback too
            "PLATFORM_ENDPOINTS": ",".join(f"127.0.0.1:{port}" for port in self.ports.values()),
            **self.extra_env,
        }

    def start(self, timeout: float = 240) -> Platform:
        names = ("GATEWAY_PORT", "WEB_TEST_PORT", "PERF_TEST_PORT", "SCHEDULER_PORT", "CONSOLE_PORT", "FLOWER_PORT")
        self.ports = {name: str(free_port()) for name in names}
        self.log = self.var_dir.parent / "up.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(["make", "-s", "up"], cwd=ROOT, env=self.env(), stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        # Refused until nginx listens; a 502 until an upstream does (the processes start in no set order).
        wait_until(self.ready, timeout, 1.0, what="every service and Flower ready through the gateway",
                   ignore=(requests.ConnectionError, requests.Timeout))  # fmt: skip
        return self

    def ready(self) -> bool:
        self.processes |= descendants(self.proc.pid)
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        codes = [requests.get(f"{self.gateway}/api/v1/{s}/ready", timeout=5).status_code for s in SERVICES]
        # Flower is part of the platform too: tests reach it through the gateway as soon as start() returns.
        flower = requests.get(f"{self.gateway}/flower/healthcheck", auth=self.flower_auth, timeout=5).status_code
        return codes == [200] * len(SERVICES) and flower == 200

    def token(self, role: str, user: str | None = None) -> str:
        return encode_token(TEST_SECRET, user or f"{role}-user", role, 3600)

    def headers(self, role: str, user: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, user)}"}

    def stop(self, timeout: float = 60) -> set[int]:
        """Ctrl-C the whole platform; return the pids that are still alive afterwards."""
        if self.proc is None:
            return set()
        self.processes |= descendants(self.proc.pid)
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout)
        finally:
            self.proc = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(p) for p in self.processes):
            time.sleep(0.2)
        return {p for p in self.processes if alive(p)}


@contextmanager
def platform_with_own_redis(workdir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Platform]:
    """`make up` on a Redis of its own, for a suite's session; Ctrl-C must leave no process behind."""
    for folder in ("redis", "platform"):
        (workdir / folder).mkdir(parents=True, exist_ok=True)
    redis = RedisServer(workdir / "redis")
    redis.start()
    running = Platform(workdir / "platform" / "var", redis.url, extra_env or {})
    try:
        running.start()
        yield running
    finally:
        left = running.stop()
        redis.stop()
    assert not left, f"processes left after Ctrl-C: {left}"


@contextmanager
def acceptance_site(root: Path) -> Iterator[str]:
    """Pages for browser tests, served on a free port: / has the title 'acceptance' and a paragraph #p that says
    hello (and logs to the console)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text('<html><head><title>acceptance</title></head><body><p id="p">hello</p>'
                                     '<script>console.log("page says hi")</script></body></html>')  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietFiles, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass
