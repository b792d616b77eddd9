"""What the CLI's end-to-end tests share: running `testfleet` as a CI job does, .side projects to run, and a
relay that restarts like a gateway."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import requests

from shared.testing import wait_until
from tests.harness import Platform

TESTFLEET = Path(sys.executable).with_name("testfleet")  # scripts/install.sh installs cli/ into the venv


@dataclass
class Cli:
    """Runs `testfleet` as a CI job would: a fresh process, the environment's TESTFLEET_URL and TESTFLEET_TOKEN."""

    platform: Platform
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("TESTFLEET_", "GITHUB_"))}
        env |= {"TESTFLEET_URL": self.platform.gateway, "TESTFLEET_TOKEN": self.platform.token("tester", "ci"),
                "XDG_CONFIG_HOME": str(self.home / "config"), "PYTHONUNBUFFERED": "1"}  # fmt: skip
        return env | extra

    def run(self, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(TESTFLEET), *args], env=self.env(**env), capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen([str(TESTFLEET), *args], env=self.env(**env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = self.platform.headers("tester", "ci")
        return requests.request(method, f"{self.platform.gateway}{path}", headers=headers, timeout=30, **kwargs)


def side(path: Path, project_id: str, commands: list[tuple[str, str, str]], *, tests: int = 1) -> Path:
    """A one-suite .side project whose tests each run commands [(command, target, value)]."""
    steps = [
        {"id": f"c{n}", "command": c, "target": t, "targets": [], "value": v} for n, (c, t, v) in enumerate(commands)
    ]
    names = [f"t{n}" for n in range(tests)]
    project = {"id": project_id, "version": "3.0", "name": project_id, "url": "",
               "tests": [{"id": name, "name": name, "commands": steps} for name in names],
               "suites": [{"id": "s", "name": "s", "persistSession": False, "parallel": False, "timeout": 300,
                           "tests": names}]}  # fmt: skip
    path.write_text(json.dumps(project))
    return path


def wait_for_state(cli: Cli, path: str, states: set[str], timeout: float = 60) -> dict:
    """Poll the API (as the test, not the CLI) until the run at path is in one of states."""
    return wait_until(lambda: (body := cli.api("GET", path).json()).get("state") in states and body, timeout, 0.2,
                      what=f"{path} to be {'/'.join(sorted(states))}")  # fmt: skip


class Relay:
    """A TCP relay in front of the gateway that can restart as a gateway does: every connection cut and the port
    closed, then open again but answering 502 (its services not ready yet) until told to forward again."""

    BODY = b'{"error": {"code": "bad_gateway", "message": "the service is not answering", "details": null}}'
    BAD_GATEWAY = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nConnection: close\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY))  # fmt: skip

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.forwarding = True
        self.bad_gateway_answers = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, args=(self.listener,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restart(self) -> None:
        """Cut every connection and close the port; open it again answering 502 until forward()."""
        with self.lock:
            cut, self.connections = self.connections, []
            self.forwarding = False
        stop_listening(self.listener)
        for conn in cut:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self.accept, args=(self.listener,), daemon=True).start()

    def forward(self) -> None:
        self.forwarding = True

    def close(self) -> None:
        self.restart()
        stop_listening(self.listener)

    def accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if not self.forwarding:
                client.recv(65536)
                client.sendall(self.BAD_GATEWAY)
                client.close()
                self.bad_gateway_answers += 1
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(source, sink), daemon=True).start()


def stop_listening(listener: socket.socket) -> None:
    """Close a listening socket that a thread is blocked accepting on: shutdown() wakes that accept() and frees
    the port (close() alone would leave it listening until the accept returned)."""
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()


def pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for conn in (source, sink):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
