"""Web runs on a real Selenium Grid: its browsers go through the worker's filtering proxy; a stop ends the session."""

from __future__ import annotations

import json
import shutil
import socketserver
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest

# The policy suites' sites (an allowed site whose pages reach for what they must not) and test_policy_e2e's helpers.
from hostile_sites import BLOCKED, FORBIDDEN, PASSWD, page
from test_policy_e2e import create, run_to_end, sites  # noqa: F401 (sites: the fixture, used by name)

import shared.runs.api
from shared.testing import service_env, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
API = "/api/v1/web-test"


@pytest.fixture(autouse=True)
def no_early_interrupt(monkeypatch):
    """A stop request waits long for the run to settle before Celery interrupts its task (SIGUSR1)."""
    monkeypatch.setattr(shared.runs.api, "STOP_GRACE_S", 30.0)


@pytest.fixture()
def grid_worker(start_worker, redis_url, database_url, tmp_path, app, grid):
    """A real web worker whose browsers run on the test's Grid (SELENIUM_REMOTE_URL)."""
    temp_dir = tempfile.mkdtemp(prefix="tf-grid-")
    try:
        env = service_env(redis_url, database_url, tmp_path, TMPDIR=temp_dir, SELENIUM_REMOTE_URL=grid.url)
        yield start_worker("web_test_service.worker", "web", env)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


class Silent(socketserver.BaseRequestHandler):
    """Accepts a connection and answers nothing until the test ends: a page that never loads."""

    def handle(self) -> None:
        self.server.released.wait(60)  # type: ignore[attr-defined]


@pytest.fixture()
def silent_site() -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Silent)
    server.daemon_threads = True
    server.released = threading.Event()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.released.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()


def stop_and_expect_no_session(client, headers, script_id, grid, worker, after_steps: int) -> None:
    """Stop the run once after_steps steps are recorded; it ends stopped and the Grid holds no session of it.

    The worker must stop the run by itself: Celery's interrupt, which the stop request sends a run that has not
    settled within STOP_GRACE_S (shared/src/shared/runs/api.py), would hide a run that hangs in the Grid.
    """

    def steps_done() -> bool:
        return len(client.get(f"{API}/scripts/{script_id}/status", headers=headers).json["steps"]) >= after_steps

    wait_until(steps_done, 60, 0.2, what=f"{after_steps} steps to finish")
    wait_until(grid.sessions, 30, 0.2, what="the run's session on the Grid")
    asked = time.monotonic()
    assert client.post(f"{API}/scripts/{script_id}/stop", headers=headers).status_code == 202
    wait_until(lambda: client.get(f"{API}/scripts/{script_id}/status", headers=headers).json["state"] == "stopped",
               15, 0.1, what="the run to be stopped")  # fmt: skip
    stopped = time.monotonic() - asked
    wait_until(lambda: not grid.sessions(), 10, 0.2, what="no session left on the Grid")
    assert "Terminating" not in worker.log.read_text(), "the run was stopped by Celery's interrupt, not by itself"
    print(f"stopped {stopped:.2f}s and no Grid session {time.monotonic() - asked:.2f}s after the request")


def reaching(path: str, target: str) -> list[tuple[str, str, str]]:
    """Open a page of the site that reaches for target, give it time, then look at what it shows."""
    return [("open", page(path, target), ""), ("pause", "500", ""), ("assertText", "css=body", "root")]


def test_an_allowed_page_passes_on_the_grid(client, auth_header, grid_worker, sites, grid):  # noqa: F811
    alice = auth_header("tester", "alice")
    steps = [("open", "/", ""), ("assertText", "id=title", "ok")]
    started = time.monotonic()
    status = run_to_end(client, alice, create(client, alice, sites.base, steps, name="allowed"))
    print(f"allowed run on the Grid: {time.monotonic() - started:.1f}s")
    assert status["state"] == "passed", status


def test_refused_targets_end_the_grid_run_in_error(client, auth_header, grid_worker, sites, grid):  # noqa: F811
    alice = auth_header("tester", "alice")
    refused = f"http://127.0.0.2:{sites.ports()['loopback']}/"
    cases = {
        "fetch of the metadata address": ("/fetch", "http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        "fetch of loopback not named": ("/fetch", refused, "127.0.0.2"),
        "redirect to a file": ("/redirect", "file:///etc/passwd", "a redirect to a file: URL"),
        "fetch of the Grid itself": ("/fetch", f"{grid.url}/status", "platform's own endpoints"),
        "navigation to the Grid itself": ("/go", f"{grid.url}/session", "platform's own endpoints"),
    }
    for name, (path, target, naming) in cases.items():
        status = run_to_end(client, alice, create(client, alice, sites.base, reaching(path, target), name=name))
        assert status["state"] == "error", (name, status)
        assert status["error"]["code"] == "target_blocked", (name, status["error"])
        message = status["error"]["message"]
        assert message.startswith(BLOCKED) and naming in message, (name, message)
        shown = json.dumps(status) + client.get(f"{API}/runs/{status['run_id']}", headers=alice).get_data(as_text=True)
        assert PASSWD not in shown and FORBIDDEN not in shown and '"ready"' not in shown, name
    assert sites.reached() == 0
    log = grid_worker.log.read_text()
    assert "Blocked by WEB_ALLOWED_HOSTS" in log and PASSWD not in log and FORBIDDEN not in log


def test_stop_mid_run_ends_the_grid_session(client, auth_header, grid_worker, sites, grid):  # noqa: F811
    alice = auth_header("tester", "alice")
    script_id = create(client, alice, sites.base, [("open", "/", ""), ("pause", "60000", "")], name="paused")
    assert client.post(f"{API}/scripts/{script_id}/run", headers=alice).status_code == 202
    stop_and_expect_no_session(client, alice, script_id, grid, grid_worker, after_steps=1)


def test_stop_during_a_page_that_never_loads_ends_the_grid_session(
    client,
    auth_header,
    grid_worker,
    sites,  # noqa: F811
    silent_site,
    grid,
):
    """The WebDriver call is blocked (the page never loads): the stop must still end the session on the Grid."""
    alice = auth_header("tester", "alice")
    steps = [("open", "/", ""), ("open", f"{silent_site}/", "")]
    script_id = create(client, alice, sites.base, steps, name="stuck")
    assert client.post(f"{API}/scripts/{script_id}/run", headers=alice).status_code == 202
    stop_and_expect_no_session(client, alice, script_id, grid, grid_worker, after_steps=1)
