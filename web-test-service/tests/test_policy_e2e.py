"""The web target policy end to end: runs through the API and a real worker, and what their browsers may reach."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from hostile_sites import BLOCKED, FORBIDDEN, PASSWD, Sites, hostile_sites, page

from shared.testing import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
API = "/api/v1/web-test"


@pytest.fixture()
def sites(tmp_path) -> Iterator[Sites]:
    with hostile_sites(tmp_path) as running:
        yield running


def create(client, headers, base_url, commands, name="policy"):
    body = {"name": name, "base_url": base_url, "commands": [
        {"command": c, "target": t, "value": v} for c, t, v in commands]}  # fmt: skip
    resp = client.post(f"{API}/scripts", json=body, headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def run_to_end(client, headers, script_id, timeout=90):
    assert client.post(f"{API}/scripts/{script_id}/run", json={}, headers=headers).status_code == 202

    def finished():
        status = client.get(f"{API}/scripts/{script_id}/status", headers=headers).json
        return status if status["state"] not in ("queued", "running") else None

    return wait_until(finished, timeout, 0.2, what="the run to finish")


def test_blocked_runs_end_in_error_and_show_nothing_of_the_target(client, auth_header, web_worker, sites, settings):
    alice = auth_header("tester", "alice")
    refused = f"http://127.0.0.2:{sites.ports()['loopback']}/"
    redis = urlsplit(settings.redis_url)
    cases = {
        "redirect to a file": ("/redirect", "file:///etc/passwd", "a redirect to a file: URL"),
        "frame of a file": ("/frame", "file:///etc/passwd", "a file: URL"),
        "fetch of the metadata address": ("/fetch", "http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        "fetch of loopback not named": ("/fetch", refused, "127.0.0.2"),
        "navigation to the platform's Redis": (
            "/go",
            f"http://{redis.hostname}:{redis.port}/",
            "platform's own endpoints",
        ),
        "window.open of a refused host": ("/open", refused, "127.0.0.2"),
        "form post to a refused host": ("/post", refused, "127.0.0.2"),
    }
    for name, (path, target, naming) in cases.items():
        steps = [("open", page(path, target), ""), ("pause", "500", ""),
                 ("assertText", "css=body", "root")]  # fmt: skip
        status = run_to_end(client, alice, create(client, alice, sites.base, steps, name=name))
        assert status["state"] == "error", (name, status)
        assert status["error"]["code"] == "target_blocked", (name, status["error"])
        message = status["error"]["message"]
        assert message.startswith(BLOCKED) and naming in message, (name, message)
        run = client.get(f"{API}/runs/{status['run_id']}", headers=alice)
        junit = client.get(f"{API}/runs/{status['run_id']}/junit.xml", headers=alice)
        assert "WEB_ALLOWED_HOSTS" in junit.get_data(as_text=True)
        for shown in (json.dumps(status), run.get_data(as_text=True), junit.get_data(as_text=True)):
            assert PASSWD not in shown and FORBIDDEN not in shown, name
    log = web_worker.log.read_text()
    assert "Blocked by WEB_ALLOWED_HOSTS" in log  # each refusal is in the worker's log ...
    assert PASSWD not in log and FORBIDDEN not in log  # ... and nothing of what it refused
    assert sites.reached() == 0
