"""Web runs end to end: the API, a real Celery worker and real headless Chromium."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
import xml.etree.ElementTree as ET

import psutil
import pytest
from browsers import browser_processes

from shared.testing import free_port, service_env, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
API = "/api/v1/web-test"


def create(client, headers, base_url, commands, **extra):
    body = {"name": extra.pop("name", "e2e"), "base_url": base_url, "commands": [
        {"command": c, "target": t, "value": v} for c, t, v in commands], **extra}  # fmt: skip
    resp = client.post(f"{API}/scripts", json=body, headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def run_to_end(client, headers, script_id, timeout=90, **body):
    started = client.post(f"{API}/scripts/{script_id}/run", json=body, headers=headers)
    assert started.status_code == 202, started.json

    def finished():
        status = client.get(f"{API}/scripts/{script_id}/status", headers=headers).json
        return status if status["state"] not in ("queued", "running") else None

    return wait_until(finished, timeout, 0.2, what="the run to finish")


LOGIN_OK = [
    ("open", "/login.html", ""),
    ("assertTitle", "Login", ""),
    ("type", "id=username", "tom"),
    ("click", "id=submit", ""),
    ("assertText", "id=result", "Hello, tom"),
]


def test_passed_run_with_junit(client, auth_header, web_worker, site):
    alice = auth_header("tester", "alice")
    script_id = create(client, alice, site, LOGIN_OK, name="login ok")
    status = run_to_end(client, alice, script_id)
    assert status["state"] == "passed", status
    assert [s["state"] for s in status["steps"]] == ["passed"] * 5
    assert status["progress"] == {"current": 5, "total": 5}
    assert status["duration_ms"] > 0 and status["error"] is None
    run = client.get(f"{API}/runs/{status['run_id']}", headers=alice).json
    assert any("logged in" in entry.get("message", "") for entry in run["result"]["console_log"])
    junit = ET.fromstring(client.get(f"{API}/runs/{status['run_id']}/junit.xml", headers=alice).data)
    cases = junit.findall(".//testcase")
    assert len(cases) == 1 and cases[0].get("name") == "login ok"
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    assert not browser_processes(web_worker)


def test_failed_assertion_gives_screenshot_and_junit_failure(client, auth_header, web_worker, site):
    alice = auth_header("tester", "alice")
    commands = [*LOGIN_OK[:4], ("assertText", "id=result", "Hello, jerry"), ("echo", "never reached", "")]
    script_id = create(client, alice, site, commands)
    status = run_to_end(client, alice, script_id)
    assert status["state"] == "failed"
    failed = status["steps"][-1]
    assert failed["index"] == 4 and failed["state"] == "failed" and "Hello, jerry" in failed["error"]
    assert len(status["steps"]) == 5  # an assert stops the run
    png = client.get(failed["screenshot_url"], headers=alice)
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    junit = ET.fromstring(client.get(f"{API}/runs/{status['run_id']}/junit.xml", headers=alice).data)
    failure = junit.find(".//testcase/failure")
    assert failure is not None and "assertText" in failure.get("message") and "command 4" in failure.get("message")
    assert junit.get("failures") == "1"


def test_a_steps_screenshot_is_addressed_by_the_commands_index(client, auth_header, web_worker, site):
    """A loop runs commands 1-3 twice, so the failing command 4 is the 9th step executed: its screenshot is
    /steps/4/screenshot (the index failed_step and JUnit name), not /steps/8/screenshot."""
    alice = auth_header("tester", "alice")
    commands = [("open", "/login.html", ""), ("times", "2", ""), ("echo", "again", ""), ("end", "", ""),
                ("assertTitle", "Nope", "")]  # fmt: skip
    status = run_to_end(client, alice, create(client, alice, site, commands))
    assert status["state"] == "failed"
    failed = status["steps"][-1]
    assert failed["index"] == 4 and len(status["steps"]) == 9
    run = client.get(f"{API}/runs/{status['run_id']}", headers=alice).json
    assert run["result"]["failed_step"] == 4
    by_index = client.get(f"{API}/runs/{status['run_id']}/steps/4/screenshot", headers=alice)
    assert by_index.status_code == 200 and by_index.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert failed["screenshot_url"] == f"{API}/runs/{status['run_id']}/steps/4/screenshot"
    assert client.get(f"{API}/runs/{status['run_id']}/steps/8/screenshot", headers=alice).status_code == 404


def test_verify_failure_continues_and_fails_the_run(client, auth_header, web_worker, site):
    alice = auth_header("tester", "alice")
    commands = [("open", "/login.html", ""), ("verifyTitle", "Nope", ""), ("assertText", "id=title", "Welcome")]
    status = run_to_end(client, alice, create(client, alice, site, commands))
    assert status["state"] == "failed"
    assert [s["state"] for s in status["steps"]] == ["passed", "failed", "passed"]


def test_unreachable_page_and_bad_locator_are_errors(client, auth_header, web_worker, site):
    alice = auth_header("tester", "alice")
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    unreachable = run_to_end(client, alice, create(client, alice, nobody_listens, [("open", "/", "")]))
    assert unreachable["state"] == "error" and unreachable["error"]["message"]
    bad = [("open", "/login.html", ""), ("click", "xpath=//*[", "")]
    bad_locator = run_to_end(client, alice, create(client, alice, site, bad, name="bad locator"))
    assert bad_locator["state"] == "error" and bad_locator["steps"][-1]["state"] == "error", bad_locator


def test_a_click_on_a_missing_element_is_an_error_and_a_junit_error(client, auth_header, web_worker, site):
    """What a CI tool tells apart: the script could not run as written (`error`), not a check that did not hold."""
    alice = auth_header("tester", "alice")
    commands = [("open", "/login.html", ""), ("click", "id=missing-element", ""), ("echo", "never reached", "")]
    status = run_to_end(client, alice, create(client, alice, site, commands))  # after the 15 s implicit wait
    assert status["state"] == "error", status
    assert status["error"] == {"code": "command_failed", "message": "Element id=missing-element not found"}
    assert [step["state"] for step in status["steps"]] == ["passed", "error"]
    junit = ET.fromstring(client.get(f"{API}/runs/{status['run_id']}/junit.xml", headers=alice).data)
    error = junit.find(".//testcase/error")
    assert error is not None and junit.find(".//testcase/failure") is None
    assert error.get("message") == "command 1 (click id=missing-element): Element id=missing-element not found"
    assert (junit.get("errors"), junit.get("failures")) == ("1", "0")


def test_stop_mid_run_within_5s_leaves_no_browser(client, auth_header, web_worker, site):
    alice = auth_header("tester", "alice")
    commands = [("open", "/slow.html", ""), ("waitForElementVisible", "id=later", "60000")]
    script_id = create(client, alice, site, commands)
    assert client.post(f"{API}/scripts/{script_id}/run", headers=alice).status_code == 202
    wait_until(lambda: client.get(f"{API}/scripts/{script_id}/status", headers=alice).json["steps"], 60, 0.2,
               what="the first step to finish")  # fmt: skip
    asked = time.monotonic()
    assert client.post(f"{API}/scripts/{script_id}/stop", headers=alice).status_code == 202
    wait_until(lambda: client.get(f"{API}/scripts/{script_id}/status", headers=alice).json["state"] == "stopped",
               5, 0.1, what="stopped within 5 s")  # fmt: skip
    print(f"stopped {time.monotonic() - asked:.2f}s after the request")
    status = client.get(f"{API}/scripts/{script_id}/status", headers=alice).json
    assert status["steps"][0]["state"] == "passed"  # partial results kept
    wait_until(lambda: not browser_processes(web_worker), 10, 0.2, what="no browser process left")


def test_script_timeout_is_an_error(client, auth_header, web_worker, site):
    alice = auth_header("tester", "alice")
    commands = [("open", "/login.html", ""), ("pause", "20000", "")]
    status = run_to_end(client, alice, create(client, alice, site, commands, timeout_ms=3000))
    assert status["state"] == "error" and "timed out" in status["error"]["message"].lower()


def test_browser_start_failure_is_retried(client, auth_header, start_worker, redis_url, database_url, tmp_path, site,
                                          app):  # fmt: skip
    flag = tmp_path / "failed-once"
    flaky = tmp_path / "flaky-chromedriver"
    flaky.write_text(f'#!/bin/sh\nif [ ! -e {flag} ]; then touch {flag}; exit 1; fi\nexec /usr/bin/chromedriver "$@"\n')
    flaky.chmod(0o755)
    env = service_env(redis_url, database_url, tmp_path, CHROMEDRIVER_PATH=str(flaky), BROWSER_START_BACKOFF_S="0.5")
    start_worker("web_test_service.worker", "web", env)
    alice = auth_header("tester", "alice")
    status = run_to_end(client, alice, create(client, alice, site, LOGIN_OK))
    assert flag.exists()
    assert status["state"] == "passed", status
    run = client.get(f"{API}/runs/{status['run_id']}", headers=alice).json
    assert run["attempts"] == 2


def test_run_command_finds_the_sub_test_in_the_imported_project(client, auth_header, web_worker, site):
    alice = auth_header("tester", "alice")

    def test(test_id, name, commands):
        return {"id": test_id, "name": name, "commands": [
            {"id": f"{test_id}{i}", "command": c, "target": t, "targets": [], "value": v}
            for i, (c, t, v) in enumerate(commands)]}  # fmt: skip

    project = {"id": "p", "version": "2.0", "name": "shop", "url": site, "suites": [], "tests": [
        test("a", "log in", LOGIN_OK[:4]),
        test("b", "greets", [("run", "log in", ""), ("assertText", "id=result", "Hello, tom")]),
    ]}  # fmt: skip
    items = client.post(f"{API}/scripts/import", json=project, headers=alice).json["items"]
    greets = next(s["id"] for s in items if s["name"] == "greets")
    status = run_to_end(client, alice, greets)
    assert status["state"] == "passed", status
    assert [s["command"] for s in status["steps"]] == ["run", "assertText"]


# Names of the worker's secrets: none may reach a browser's environment.
SECRETS = ("AUTH_SECRET", "DATABASE_URL", "REDIS_URL", "FLOWER_BASIC_AUTH", "FLOWER_COOKIE_SECRET")


def test_browsers_get_none_of_the_workers_secrets(client, auth_header, start_worker, app, redis_url, database_url,
                                                  tmp_path, site):  # fmt: skip
    temp_dir = tempfile.mkdtemp(prefix="tf-env-")
    env = service_env(redis_url, database_url, tmp_path, TMPDIR=temp_dir, FLOWER_BASIC_AUTH="ops:flower-secret",
                      FLOWER_COOKIE_SECRET="cookie-secret")  # fmt: skip
    worker = start_worker("web_test_service.worker", "web", env)
    alice = auth_header("tester", "alice")
    script_id = create(client, alice, site, [("open", "/login.html", ""), ("pause", "20000", "")])
    assert client.post(f"{API}/scripts/{script_id}/run", json={}, headers=alice).status_code == 202
    wait_until(lambda: client.get(f"{API}/scripts/{script_id}/status", headers=alice).json["steps"], 60, 0.2,
               what="the first step")  # fmt: skip
    processes = [psutil.Process(pid) for pid in browser_processes(worker)]
    assert {"chromedriver", "chromium"} <= {p.name() for p in processes}, processes
    for process in processes:
        environ = process.environ()  # /proc/<pid>/environ
        assert not set(SECRETS) & set(environ), (process.name(), sorted(environ))
        values = "\n".join(environ.values())
        for secret in (env["AUTH_SECRET"], database_url, redis_url, "flower-secret", "cookie-secret"):
            assert secret not in values, process.name()
        # Chromium's helpers (zygote, renderers) overwrite their environment block with their title; the
        # browser process and chromedriver keep theirs, and carry the marker the orphan sweep looks for.
        if not any(arg.startswith("--type=") for arg in process.cmdline()):
            assert environ.get("TESTFLEET_BROWSER") == str(pool_child_of(process, worker)), process.name()
    assert client.post(f"{API}/scripts/{script_id}/stop", headers=alice).status_code == 202
    wait_until(lambda: not browser_processes(worker), 20, 0.2, what="the browser gone")
    shutil.rmtree(temp_dir, ignore_errors=True)


def pool_child_of(process: psutil.Process, worker) -> int:
    """The worker's pool child the browser belongs to (its ancestor right below the worker's main process)."""
    chain = [process, *process.parents()]
    for child, parent in itertools.pairwise(chain):
        if parent.pid == worker.proc.pid:
            return child.pid
    raise AssertionError(f"{process} is not below the worker")
