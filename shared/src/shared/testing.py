"""Pytest plugin: real Redis, real databases, real worker processes, tokens, deadlines.

Services opt in with `pytest_plugins = ["shared.testing"]` in their conftest.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shared import names
from shared.auth import encode_token
from shared.redis_client import redis_from_url

TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef"


def skip_or_fail(reason: str) -> None:
    """Skip on a developer machine; in CI (CI set) a missing dependency is a failure, never a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must install it)")
    pytest.skip(reason)


def require_executable(path: str) -> None:
    """The test needs this program (e.g. /usr/bin/chromedriver): skip_or_fail without it."""
    if not Path(path).exists() and shutil.which(path) is None:
        skip_or_fail(f"{path} is not installed")


@contextlib.contextmanager
def migrated_app(package: str, settings):
    """The service's Flask app on its database brought to head; the engine is disposed afterwards."""
    from importlib import import_module

    from shared.migrations import upgrade

    upgrade(package, settings.sqlalchemy_url)
    app = import_module(package).create_app(settings)
    try:
        yield app
    finally:
        app.extensions["db"].dispose()


@pytest.fixture()
def client(app):
    """A test client of the suite's `app` fixture."""
    return app.test_client()


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Hit:
    """One request an OkServer answered: the address it came in on, its Host header, path and TLS server name."""

    address: str
    host: str
    path: str
    server_name: str | None


class OkServer(http.server.ThreadingHTTPServer):
    """Answers every GET with 200 "ok" on (address, port), in a thread, and records each request as a Hit.

    ``tls`` serves HTTPS and records the server name (SNI) the client sent. Call ``stop()`` when done.
    """

    def __init__(self, address: str, port: int = 0, tls: ssl.SSLContext | None = None):
        super().__init__((address, port), _OkHandler)
        self.hits: list[Hit] = []
        self.sni: str | None = None  # not server_name: HTTPServer's own attribute (this host's name)
        if tls is not None:

            def remember_name(_sock, server_name, _context):
                self.sni = server_name

            tls.sni_callback = remember_name
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class _OkHandler(http.server.BaseHTTPRequestHandler):
    server: OkServer

    def do_GET(self):
        hit = Hit(str(self.server.server_address[0]), self.headers.get("Host", ""), self.path, self.server.sni)
        self.server.hits.append(hit)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def wait_until(
    predicate: Callable[[], object],
    timeout: float,
    interval: float = 0.1,
    what: str = "condition",
    ignore: tuple[type[BaseException], ...] = (),
):
    """Poll predicate until it returns a truthy value (and return it); fail the test at the deadline.

    An exception of the predicate is raised at once, noted with `what`: a broken check must not
    pass for "not yet" until the deadline. Only the types in `ignore` (e.g. a connection refused
    while a server starts) mean "not yet"; the last of them is named if the deadline passes.
    """
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
        except ignore as exc:
            last_exc, value = exc, None
        except Exception as exc:
            exc.add_note(f"raised by the predicate while waiting for {what}")
            raise
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc!r})" if last_exc else "")
    )


class RedisServer:
    """A redis-server of the test session's own, on a free port, stoppable; with a password if given one."""

    def __init__(self, workdir: Path, appendonly: bool = False, password: str = ""):
        self.workdir = workdir
        self.port = free_port()
        self.appendonly = appendonly
        self.password = password
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        credentials = f":{self.password}@" if self.password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir), "--save", ""]
        args += ["--appendonly", "yes" if self.appendonly else "no", "--maxmemory-policy", "noeviction"]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_from_url(self.url, 0.5)
        proc = self.proc

        def answers():
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server on {self.port} exited with {proc.returncode}")
            return client.ping()

        # Refused until it listens; BusyLoadingError (a ConnectionError) while it loads its AOF.
        wait_until(answers, 10, 0.05, what=f"redis-server on {self.port}",
                   ignore=(redis.ConnectionError, redis.TimeoutError))  # fmt: skip

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown save, the AOF as far as its last fsync."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The session's Redis, emptied before each test."""
    if redis_server.proc is None:
        redis_server.start()
    redis_from_url(redis_server.url).flushall()
    yield redis_server.url


def _postgres_database(base_url: str) -> tuple[str, Callable[[], None]]:
    """Create a throwaway database on the server of base_url; return its URL and a dropper."""
    from shared.config import normalize_database_url

    url = make_url(normalize_database_url(base_url))
    name = f"testfleet_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()

    def drop() -> None:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture()
def database_url(tmp_path) -> Iterator[str]:
    """A fresh, empty database: PostgreSQL when TEST_DATABASE_URL is set, else SQLite."""
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        url, drop = _postgres_database(base)
        yield url
        drop()
    else:
        yield f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture()
def make_token() -> Callable[..., str]:
    """make_token(role, user=None, secret=TEST_SECRET, ttl=3600) -> JWT."""

    def _make(role: str, user: str | None = None, secret: str = TEST_SECRET, ttl: int = 3600) -> str:
        return encode_token(secret, user or f"{role}-user", role, ttl)

    return _make


@pytest.fixture()
def auth_header(make_token) -> Callable[..., dict]:
    """auth_header(role, user=None) -> {"Authorization": "Bearer ..."}."""

    def _header(role: str, user: str | None = None) -> dict:
        return {"Authorization": f"Bearer {make_token(role, user)}"}

    return _header


class BackgroundProcess:
    """Any long-running command (gunicorn, nginx) in its own process group, logged to a file."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, cwd: str | Path | None = None):
        self.args = args
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None
        self.log = Path(tempfile.mkstemp(prefix="proc-", suffix=".log")[1])

    def start(self) -> BackgroundProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.args, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the group, SIGKILL it after timeout, and reap whatever is left in it (pool children)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the whole group at once (a crash, not a shutdown)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            self.proc = None


class WorkerProcess(BackgroundProcess):
    """A real `celery worker` subprocess in its own process group."""

    def __init__(self, app_module: str, queue: str, env: dict[str, str], name: str | None = None, concurrency: int = 1):
        self.app_module = app_module
        self.queue = queue
        self.hostname = name or f"{queue}-{uuid.uuid4().hex[:6]}@test"
        self.concurrency = concurrency
        args = [
            sys.executable, "-m", "celery", "-A", app_module, "worker",
            "-Q", queue, "-n", self.hostname, "-c", str(concurrency),
            "--pool", "prefork", "--without-mingle", "--without-gossip", "--loglevel", "INFO",
        ]  # fmt: skip
        super().__init__(args, env)

    def start(self, wait: bool = True, timeout: float = 60) -> WorkerProcess:
        super().start()
        if wait:
            self.wait_ready(timeout)
        return self

    def alive_key(self) -> str:
        return names.WORKER_ALIVE_KEY.format(queue=self.queue, hostname=self.hostname)

    def wait_ready(self, timeout: float = 60) -> None:
        client = redis_from_url(self.env["REDIS_URL"], 1.0)

        def ready():
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"worker exited: {self.log.read_text()[-2000:]}")
            return client.exists(self.alive_key())

        wait_until(ready, timeout, 0.2, what=f"worker {self.hostname} ready")

    def stop(self, timeout: float = 20) -> None:
        super().stop(timeout)  # warm shutdown first: a worker finishes its current task


@pytest.fixture()
def start_worker() -> Iterator[Callable[..., WorkerProcess]]:
    """start_worker(app_module, queue, env, **kw) -> a started WorkerProcess, stopped after the test."""
    started: list[WorkerProcess] = []

    def _start(app_module: str, queue: str, env: dict[str, str], **kwargs) -> WorkerProcess:
        wait = kwargs.pop("wait", True)
        worker = WorkerProcess(app_module, queue, env, **kwargs)
        started.append(worker)
        return worker.start(wait=wait)

    yield _start
    for worker in started:
        worker.stop()


def service_settings(settings_cls, redis_url: str, database_url: str, var_dir: Path, **overrides):
    """Settings for a service under test: its own Redis, database and var dir, loopback test sites allowed."""
    values = {"web_allowed_hosts": TEST_WEB_ALLOWED_HOSTS, "admin_password": TEST_ADMIN_PASSWORD, **overrides}
    for field in ("web_allowed_hosts", "admin_password"):  # what only some services' settings have
        if field not in settings_cls.model_fields:
            values.pop(field)
    return settings_cls(
        redis_url=redis_url,
        database_url=database_url,
        auth_secret=TEST_SECRET,
        environment="test",
        var_dir=var_dir,
        **values,
    )


# The console's first admin under test (outside development its default password is refused).
TEST_ADMIN_PASSWORD = "admin-password-for-tests"

# Test sites listen on loopback, which WEB_ALLOWED_HOSTS admits only when named.
TEST_WEB_ALLOWED_HOSTS = "*,127.0.0.1,localhost,::1"


def service_env(redis_url: str, database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The same settings as environment variables, for worker and API subprocesses."""
    return {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "AUTH_SECRET": TEST_SECRET,
        "ENVIRONMENT": "test",
        "VAR_DIR": str(var_dir),
        "LOG_LEVEL": "INFO",
        "WEB_ALLOWED_HOSTS": TEST_WEB_ALLOWED_HOSTS,
        "TESTFLEET_ADMIN_PASSWORD": TEST_ADMIN_PASSWORD,
        **extra,
    }


def wait_for_http(url: str, timeout: float = 30, status: int | None = None) -> None:
    """Wait until url answers (any status, or the given one); refused or reset means not yet."""
    import http.client
    import urllib.error
    import urllib.request

    def answers():
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (test URL)
                code = resp.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        return status is None or code == status

    # URLError, refused, reset and timeouts are OSErrors; a half-started server may send a bad status line.
    wait_until(answers, timeout, 0.1, what=f"{url} to answer", ignore=(OSError, http.client.HTTPException))
