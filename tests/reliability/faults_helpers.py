"""Helpers of the fault suite: a test site, own workers, lock holders, process counts, a pausable TCP proxy."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import kombu.exceptions
import psutil
import redis.exceptions
import requests
from celery import Celery

from shared.broker import priority_queue_keys
from shared.runs.lock import lock_key
from shared.testing import WorkerProcess, wait_until
from tests.harness import ROOT, alive

SITE_DIR = ROOT / "web-test-service" / "tests" / "site"
WEB = "/api/v1/web-test"
PERF = "/api/v1/perf-test"
ACTIVE = ("queued", "running")
BROWSER_NAMES = ("chromium", "chrome", "chromedriver")


class _SiteHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(SITE_DIR), **kwargs)

    def log_message(self, *args):
        pass


class _OkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(handler) -> Iterator[str]:
    """An HTTP server on a free port in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def serve_site():
    return serve(_SiteHandler)


def serve_ok():
    return serve(_OkHandler)


# --- the API -------------------------------------------------------------------------------


class Api:
    def __init__(self, gateway: str, headers: dict[str, str]):
        self.gateway, self.headers = gateway, headers
        self.http = requests.Session()

    def call(self, method: str, path: str, expect: int | tuple = (200, 201, 202), **kwargs) -> dict:
        resp = self.http.request(method, self.gateway + path, headers=self.headers, timeout=30, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        assert resp.status_code in expected, (method, path, resp.status_code, resp.text[:500])
        return resp.json() if resp.content else {}

    def web_script(self, base_url: str, commands: list[tuple[str, str, str]], name: str = "fault") -> str:
        body = {"name": name, "base_url": base_url,
                "commands": [{"command": c, "target": t, "value": v} for c, t, v in commands]}  # fmt: skip
        return self.call("POST", f"{WEB}/scripts", 201, json=body)["id"]

    def web_run(self, script_id: str, **body) -> str:
        return self.web_start(script_id, **body)["run_id"]

    def web_start(self, script_id: str, **body) -> dict:
        """The 202 answer to starting a run: run_id, task_id, state."""
        return self.call("POST", f"{WEB}/scripts/{script_id}/run", 202, json=body)

    def web_status(self, script_id: str) -> dict:
        return self.call("GET", f"{WEB}/scripts/{script_id}/status", 200)

    def web_detail(self, run_id: str) -> dict:
        return self.call("GET", f"{WEB}/runs/{run_id}", 200)

    def scenario(self, host: str, name: str = "fault") -> str:
        body = {"name": name, "host": host, "requests": [{"name": "home", "path": "/", "expect_status": 200}],
                "wait_time_ms": {"min": 50, "max": 100}}  # fmt: skip
        return self.call("POST", f"{PERF}/scenarios", 201, json=body)["id"]

    def perf_run(self, scenario_id: str, run_time: str = "8s") -> str:
        body = {"user_count": 2, "spawn_rate": 2, "run_time": run_time}
        return self.call("POST", f"{PERF}/scenarios/{scenario_id}/run", 202, json=body)["run_id"]

    def perf_detail(self, run_id: str) -> dict:
        return self.call("GET", f"{PERF}/runs/{run_id}", 200)


def wait_terminal(detail, timeout: float, what: str) -> dict:
    """Poll a run's detail until it leaves queued/running."""

    def settled():
        run = detail()
        return run if run["state"] not in ACTIVE else None

    return wait_until(settled, timeout, 0.2, what=what)


# --- workers -------------------------------------------------------------------------------


def celery_app(redis_url: str) -> Celery:
    return Celery("faults", broker=redis_url)


# What a control connection may raise while Redis restarts or a worker reconnects: keep trying, until a deadline.
BROKER_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, kombu.exceptions.OperationalError,
               ConnectionError, TimeoutError)  # fmt: skip


def worker_names(app: Celery, queue: str, timeout: float = 5.0) -> list[str]:
    """Node names of the workers consuming queue, as they answer."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return [node for node, queues in replies.items() if any(q["name"] == queue for q in queues)]


def give_queue_back(broker_url: str, queue: str, nodes: list[str], timeout: float = 90) -> None:
    """add_consumer(queue) on nodes until each of them lists queue in active_queues again.

    Each round uses a fresh control connection: the old one may point at a Redis that was restarted
    meanwhile, and a worker that is still reconnecting misses a broadcast, so the round repeats.
    """

    def back() -> bool:
        app = celery_app(broker_url)
        try:
            missing = set(nodes) - set(worker_names(app, queue, 2))
            if missing:
                app.control.add_consumer(queue, destination=sorted(missing), reply=True, timeout=2)
                missing -= set(worker_names(app, queue, 2))
            return not missing
        finally:
            app.close()

    wait_until(back, timeout, 1.0, what=f"{nodes} consuming {queue} again", ignore=BROKER_DOWN)


@contextlib.contextmanager
def only_own_workers(app: Celery, queue: str, own: list[WorkerProcess]) -> Iterator[list[str]]:
    """Make the platform's workers stop consuming queue (remote control), so only ours take its runs.

    The workers get the queue back when the block ends, however it ends (a failed assertion, a restarted
    Redis): a test that fails must not leave the platform paused for the tests after it.
    """
    own_names = {w.hostname for w in own}
    others: list[str] = []

    def only_ours() -> bool:
        # Until an inspect round shows no foreign consumer: one slow to answer a round is cancelled in the next.
        foreign = [n for n in worker_names(app, queue) if n not in own_names]
        others.extend(n for n in foreign if n not in others)
        if foreign:
            app.control.cancel_consumer(queue, destination=foreign, reply=True, timeout=5)
        return not foreign

    try:
        wait_until(only_ours, 60, 0.5, what=f"platform workers to leave queue {queue}")
        yield others
    finally:
        if others:
            give_queue_back(app.conf.broker_url, queue, others)


def own_worker(platform, app_module: str, queue: str, concurrency: int = 1) -> WorkerProcess:
    env = {k: v for k, v in platform.env().items() if isinstance(v, str)}
    return WorkerProcess(app_module, queue, env, concurrency=concurrency).start(timeout=90)


def queued_messages(client, queue: str) -> list[dict]:
    """Every message waiting in queue, as its headers say: task name, task id, args, expiry, redelivery."""
    found = []
    for key in priority_queue_keys(queue):
        for raw in client.lrange(key, 0, -1):
            message = json.loads(raw)
            headers = message.get("headers") or {}
            body = message.get("body") or ""
            if message.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args = json.loads(body)[0] if body else None
            found.append(
                {
                    "task": headers.get("task"),
                    "id": headers.get("id"),
                    "args": args,
                    "expires": headers.get("expires"),
                    "redelivered": bool(headers.get("redelivered")),
                }
            )
    return found


def broker_task_ids(client, queue: str) -> set[str]:
    """Ids of the tasks waiting in queue or delivered to a worker and not yet acked (kombu's `unacked` hash)."""
    ids = {m["id"] for m in queued_messages(client, queue)}
    for raw in client.hvals("unacked"):
        message, _exchange, routing_key = json.loads(raw)
        if routing_key == queue:
            ids.add((message.get("headers") or {}).get("id"))
    return ids


def lock_holder(redis, run_id: str) -> tuple[str, int] | None:
    """(hostname, pid) of the process holding the run's lock, or None."""
    value = redis.get(lock_key(run_id))
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode()
    host, pid, *_ = value.split("|")
    return host, int(pid)


class HolderWatch:
    """Samples a run's lock holder every 20 ms in a thread: the sequence of holders and when each appeared."""

    def __init__(self, redis, run_id: str):
        self.redis, self.run_id = redis, run_id
        self.seen: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> HolderWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(0.02):
            with contextlib.suppress(Exception):
                holder = lock_holder(self.redis, self.run_id)
                if holder and (not self.seen or self.seen[-1][1] != holder[1]):
                    self.seen.append((time.monotonic(), holder[1]))

    def holders(self) -> list[int]:
        return [pid for _, pid in self.seen]

    def first_seen(self, pid: int) -> float:
        """When the sampler first saw pid hold the lock (the caller may have noticed it a moment earlier)."""
        wait_until(lambda: any(p == pid for _, p in self.seen), 10, 0.02, what=f"the sampler to see holder {pid}")
        return next(t for t, p in self.seen if p == pid)


def sigkill(pid: int, timeout: float = 10) -> float:
    """SIGKILL one process; return when it is gone (monotonic time)."""
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), timeout, 0.02, what=f"pid {pid} to die")
    return time.monotonic()


# --- leftovers -----------------------------------------------------------------------------


def leftover_processes(var_dir: Path, owner_pids: set[int]) -> dict[str, list[int]]:
    """Browsers and Locust processes of this platform (or of owner_pids) that are still alive.

    Other suites may run browsers on this machine at the same time: a browser counts when its profile
    names one of owner_pids, or it descends from one; Locust when its command line names var_dir.
    """
    found: dict[str, list[int]] = {"chromium": [], "chromedriver": [], "locust": []}
    for proc in psutil.process_iter(["pid", "name", "cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmd = " ".join(proc.info["cmdline"] or [])
        name = proc.info["name"] or ""
        try:
            ancestors = {p.pid for p in proc.parents()}
        except psutil.Error:
            continue
        ours = bool(ancestors & owner_pids) or any(f"testfleet-chromium-{pid}-" in cmd for pid in owner_pids)
        if name in ("chromium", "chrome") and ours:
            found["chromium"].append(proc.pid)
        elif name == "chromedriver" and ours:
            found["chromedriver"].append(proc.pid)
        elif "locust" in cmd and str(var_dir) in cmd:
            found["locust"].append(proc.pid)
    return found


# --- a TCP forwarder we can cut -------------------------------------------------------------


class PausableProxy:
    """127.0.0.1:port -> target; pause() closes every connection and refuses new ones until resume()."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> PausableProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _pause(self) -> None:
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    def pause(self) -> None:
        self._call(self._pause())

    def resume(self) -> None:
        self._call(self._listen())  # same port: it was free since pause()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.pause()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
