"""The projects, project-run and web-run pages over a fake web-test API: re-upload updates by side id, the API's
422 shown beside the form, the run form's body, verdict strips, live fragments that stop polling, relayed files."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from console_harness import ADMIN_PASSWORD, csrf_of, log_in
from werkzeug.datastructures import MultiDict

from console_service.config import ConsoleSettings
from console_service.pages.projects import run_request, side_id_of, verdict_strips
from console_service.pages.web_runs import failing_steps
from shared.testing import migrated_app, service_settings

WEB = "/api/v1/web-test"
PROJECT = {"id": "p1", "owner": "admin", "name": "shop", "base_url": "", "side_id": "side-1", "version": "3.0",
           "created_at": "2026-12-01T09:00:00Z", "updated_at": "2026-12-01T09:00:00Z"}  # fmt: skip
IMPORTED = {"project": PROJECT, "suites": [], "scripts": [], "warnings": []}


@dataclass
class FakeApi:
    """A web-test API answering canned (status, body) by method and path, and keeping what it was sent."""

    routes: dict[tuple[str, str], tuple[int, object]] = field(default_factory=dict)
    calls: list[tuple[str, str, dict, bytes]] = field(default_factory=list)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        self.calls.append((handler.command, url.path, parse_qs(url.query), body))
        status, answer = self.routes.get((handler.command, url.path), (404, refusal("not_found", "no such thing")))
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/xml" if isinstance(answer, bytes) else "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def sent(self, method: str, path: str) -> list[tuple[dict, bytes]]:
        return [(query, body) for m, p, query, body in self.calls if (m, p) == (method, path)]


@pytest.fixture()
def fake_api() -> Iterator[FakeApi]:
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.answer(self)

        do_POST = do_PUT = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture()
def pages(redis_url, database_url, tmp_path, fake_api):
    settings = service_settings(ConsoleSettings, redis_url, database_url, tmp_path, admin_password=ADMIN_PASSWORD,
                                web_test_url=fake_api.url)  # fmt: skip
    with migrated_app("console_service", settings) as app:
        client = app.test_client()
        assert log_in(client).status_code == 302
        yield client


def project_run(run_id: str, states: dict[str, str], created_at: str = "2026-12-01T10:00:00Z") -> dict:
    tests = [{"script_id": s, "name": s, "state": state, "flaky": False} for s, state in states.items()]
    return {"id": run_id, "created_at": created_at, "suites": [{"name": "s", "tests": tests}]}


def test_a_verdict_strip_lists_a_tests_states_oldest_first_and_at_most_n():
    newest_first = [project_run("r3", {"a": "failed"}), project_run("r2", {"a": "passed", "b": "error"}),
                    project_run("r1", {"a": "passed", "b": None})]  # fmt: skip
    strips = verdict_strips(newest_first, size=2)
    assert [(v["project_run_id"], v["state"]) for v in strips["a"]] == [("r2", "passed"), ("r3", "failed")]
    assert [v["state"] for v in strips["b"]] == ["error"]  # not in r3, not started in r1


def test_a_test_in_two_suites_counts_once_per_run():
    run = project_run("r1", {"a": "passed"})
    run["suites"].append({"name": "again", "tests": [{"script_id": "a", "name": "a", "state": "failed"}]})
    assert [v["state"] for v in verdict_strips([run])["a"]] == ["passed"]


def test_the_run_form_becomes_the_run_body():
    form = MultiDict([("suite", "smoke"), ("base_url", " http://site "), ("retries", "2"), ("var_name", "user"),
                      ("var_value", "bob"), ("var_name", ""), ("var_value", "")])  # fmt: skip
    assert run_request(form) == ({"suite": "smoke", "base_url": "http://site", "retries": 2,
                                  "variables": {"user": "bob"}}, {})  # fmt: skip
    _body, errors = run_request(MultiDict([("retries", "two"), ("var_name", ""), ("var_value", "orphan")]))
    assert set(errors) == {"retries", "variables"}


def test_a_side_id_is_read_only_from_a_readable_project():
    assert side_id_of(b'{"id": "abc", "tests": []}') == "abc"
    assert side_id_of(b"not json") is None
    assert side_id_of(b'{"id": 5}') is None
    assert side_id_of(json.dumps({"id": "x" * 201}).encode()) is None


def test_a_failing_step_shows_one_screenshot_per_command():
    failed = {"index": 2, "state": "failed", "screenshot_url": "u"}
    steps = [{"index": 1, "state": "passed", "screenshot_url": None}, failed, dict(failed),
             {"index": 3, "state": "error", "screenshot_url": None}]  # fmt: skip
    assert failing_steps(steps) == [steps[1]]


def test_uploading_a_project_again_updates_the_newest_with_its_side_id(pages, fake_api):
    older, newer = {**PROJECT, "id": "old"}, {**PROJECT, "id": "new", "created_at": "2026-12-02T09:00:00Z"}
    fake_api.routes[("GET", f"{WEB}/projects")] = (200, {"items": [older, newer], "total": 2, "limit": 20, "offset": 0})
    fake_api.routes[("PUT", f"{WEB}/projects/new")] = (200, IMPORTED)
    data = {"csrf_token": csrf_of(pages, "/projects"), "file": (_side(b'{"id": "side-1"}'), "shop.side")}
    answer = pages.post("/projects", data=data, content_type="multipart/form-data")
    assert answer.status_code == 200 and "Updated “shop”" in answer.get_data(as_text=True)
    assert [query["side_id"] for query, _ in fake_api.sent("GET", f"{WEB}/projects") if "side_id" in query] == [
        ["side-1"]
    ]
    (_query, body), = fake_api.sent("PUT", f"{WEB}/projects/new")  # fmt: skip
    assert b'{"id": "side-1"}' in body and b'name="file"' in body
    assert not fake_api.sent("POST", f"{WEB}/projects")


def test_an_import_the_api_refuses_is_shown_beside_the_form(pages, fake_api):
    fake_api.routes[("GET", f"{WEB}/projects")] = (200, {"items": [], "total": 0, "limit": 20, "offset": 0})
    problem = {"field": "tests.0.commands.1.target", "message": "Unknown locator class"}
    message = "test 'a': tests.0.commands.1.target: Unknown locator class"
    fake_api.routes[("POST", f"{WEB}/projects")] = (422, refusal("validation_error", message, [problem]))
    data = {"csrf_token": csrf_of(pages, "/projects"), "file": (_side(b'{"id": "side-2"}'), "broken.side")}
    answer = pages.post("/projects", data=data, content_type="multipart/form-data")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "Traceback" not in text
    assert "The project was not imported: test &#39;a&#39;" in text
    assert "tests.0.commands.1.target: Unknown locator class" in text


def test_the_live_part_stops_polling_when_the_run_has_ended(pages, fake_api):
    run = {"run_id": "r1", "script_id": "s1", "script_name": "login", "state": "running", "owner": "admin",
           "base_url": "", "project_run_id": None, "attempt": 1, "flaky": False, "error": None,
           "progress": {"current": 1, "total": 2}, "created_at": "2026-12-01T09:00:00Z", "started_at": None,
           "duration_ms": None, "steps": [{"index": 0, "command": "open", "target": "/", "value": "",
                                           "state": "passed", "duration_ms": 12, "error": None,
                                           "screenshot_url": None}]}  # fmt: skip
    fake_api.routes[("GET", f"{WEB}/runs/r1")] = (200, run)
    live = pages.get("/web-runs/r1/live", headers={"HX-Request": "true"})
    assert live.status_code == 200 and "hx-swap-oob" not in live.get_data(as_text=True)
    assert "Stop" in pages.get("/web-runs/r1").get_data(as_text=True)
    failed = {"index": 1, "command": "assertText", "target": "id=p", "value": "x", "state": "failed",
              "duration_ms": 40, "error": "wrong", "screenshot_url": f"{WEB}/runs/r1/steps/1/screenshot"}  # fmt: skip
    fake_api.routes[("GET", f"{WEB}/runs/r1")] = (200, {**run, "state": "failed", "steps": [*run["steps"], failed]})
    fake_api.routes[("GET", f"{WEB}/runs/r1/console.json")] = (200, {"entries": [{"level": "INFO", "message": "hi"}]})
    ended = pages.get("/web-runs/r1/live", headers={"HX-Request": "true"})
    text = ended.get_data(as_text=True)
    assert ended.status_code == 286 and '<div id="stop-control" hx-swap-oob="true"></div>' in text
    assert 'src="/web-runs/r1/steps/1/screenshot"' in text and "<code>hi</code>" in text
    whole = pages.get("/web-runs/r1").get_data(as_text=True)
    assert "hx-trigger" not in whole and '<button type="submit">Stop</button>' not in whole


def test_the_junit_report_is_relayed_as_a_download(pages, fake_api):
    fake_api.routes[("GET", f"{WEB}/project-runs/pr1/junit.xml")] = (200, b"<testsuites></testsuites>")
    answer = pages.get("/project-runs/pr1/junit.xml")
    assert answer.status_code == 200 and answer.data == b"<testsuites></testsuites>"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="project-run-pr1.xml"'


def test_a_run_the_api_refuses_is_a_readable_page(pages, fake_api):
    fake_api.routes[("POST", f"{WEB}/project-runs/pr1/stop")] = (403, refusal("forbidden", "viewers may not"))
    answer = pages.post("/project-runs/pr1/stop", data={"csrf_token": csrf_of(pages, "/projects")})
    assert answer.status_code == 403 and "viewers may not" in answer.get_data(as_text=True)
    assert answer.mimetype == "text/html"


def refusal(code: str, message: str, details: list | None = None) -> dict:
    """An error body as every service answers it."""
    return {"error": {"code": code, "message": message, "details": details}}


def _side(raw: bytes) -> io.BytesIO:
    return io.BytesIO(raw)
