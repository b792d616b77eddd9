"""A run's artifacts end to end: the API, a real Celery worker and real headless Chromium."""

from __future__ import annotations

import json

import pytest

from shared.testing import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
API = "/api/v1/web-test"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CONSOLE_ERROR = "boom from the console page"


def run_to_end(client, headers, commands, site, timeout=90):
    """Create a script of (command, target, value), run it and wait for its verdict; the finished run."""
    body = {"name": "artifacts", "base_url": site,
            "commands": [{"command": c, "target": t, "value": v} for c, t, v in commands]}  # fmt: skip
    created = client.post(f"{API}/scripts", json=body, headers=headers)
    assert created.status_code == 201, created.json
    script_id = created.json["id"]
    assert client.post(f"{API}/scripts/{script_id}/run", json={}, headers=headers).status_code == 202

    def finished():
        status = client.get(f"{API}/scripts/{script_id}/status", headers=headers).json
        return status if status["state"] not in ("queued", "running") else None

    return wait_until(finished, timeout, 0.2, what="the run to finish")


def test_a_failing_run_leaves_its_step_screenshot_console_log_and_final_screenshot(
    client, auth_header, web_worker, site
):
    alice = auth_header("tester", "alice")
    commands = [("open", "/console.html", ""), ("verifyText", "id=title", "Another page"), ("echo", "goes on", "")]
    status = run_to_end(client, alice, commands, site)
    assert status["state"] == "failed", status["error"]
    items = client.get(f"{API}/runs/{status['run_id']}/artifacts", headers=alice).json["items"]
    assert [(item["kind"], item["step_index"]) for item in items] == [
        ("screenshot", 1), ("console_log", None), ("final_screenshot", None)
    ]  # fmt: skip
    for item in items:
        got = client.get(item["url"], headers=alice)
        assert got.status_code == 200 and got.mimetype == item["content_type"] and len(got.data) == item["size"]
        if item["content_type"] == "image/png":
            assert got.data[:8] == PNG_MAGIC
    entries = json.loads(client.get(items[1]["url"], headers=alice).data)["entries"]
    errors = [entry for entry in entries if CONSOLE_ERROR in (entry["message"] or "")]
    assert errors and errors[0]["level"] == "SEVERE" and errors[0]["source"] == "console-api", entries
    assert isinstance(errors[0]["timestamp"], int)
    bob = auth_header("tester", "bob")
    for url in [f"{API}/runs/{status['run_id']}/artifacts", *(item["url"] for item in items)]:
        assert client.get(url, headers=bob).status_code == 404, url
    script = client.get(f"{API}/scripts/{status['script_id']}", headers=alice).json
    assert [(v["run_id"], v["state"]) for v in script["recent"]] == [(status["run_id"], "failed")]


def test_a_passing_run_has_no_final_screenshot(client, auth_header, web_worker, site):
    alice = auth_header("tester", "alice")
    status = run_to_end(client, alice, [("open", "/console.html", ""), ("assertTitle", "Console", "")], site)
    assert status["state"] == "passed", status
    items = client.get(f"{API}/runs/{status['run_id']}/artifacts", headers=alice).json["items"]
    assert [item["kind"] for item in items] == ["console_log"]  # the page's console.error, kept on a pass too
    missing = client.get(f"{API}/runs/{status['run_id']}/final-screenshot.png", headers=alice)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
