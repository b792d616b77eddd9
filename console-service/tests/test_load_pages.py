"""The load pages' plain functions (form rows to the API body, the API's field errors back onto rows, the charts'
series) and the pages themselves rendered over a fake platform API."""

from __future__ import annotations

from typing import Any

import pytest
from console_harness import csrf_of
from werkzeug.datastructures import MultiDict

from console_service.pages import load_runs, scenarios, schedules
from console_service.pages.scenarios import ScenarioForm, describe_key, field_errors, form_key, run_body
from console_service.platform_api import ApiCallFailed
from shared import paths

SCENARIO_ID, RUN_ID = "a" * 32, "b" * 32


def posted(**fields: str) -> MultiDict:
    return MultiDict(fields)


def test_blank_rows_are_left_out_and_each_request_remembers_its_row():
    form = ScenarioForm.from_form(posted(**{
        "name": "home", "host": "http://127.0.0.1:9", "wait_min": "100", "wait_max": "500", "p95_ms": "300",
        "requests-0-method": "GET", "requests-0-path": "/", "requests-0-weight": "1",
        "requests-1-method": "GET", "requests-1-path": "", "requests-1-weight": "1",  # a spare row left empty
        "requests-2-method": "POST", "requests-2-path": "/items", "requests-2-weight": "2",
        "requests-2-body": '{"q": 1}', "requests-2-body_kind": "json", "requests-2-expect_status": "200, 201",
        "requests-2-headers": "X-Token: abc\n", "requests-2-name": "add item",
    }))  # fmt: skip
    body, sent_rows, errors = form.body()
    assert errors == {} and sent_rows == [0, 2]
    assert body == {
        "name": "home", "host": "http://127.0.0.1:9",
        "requests": [
            {"method": "GET", "path": "/", "weight": 1},
            {"method": "POST", "path": "/items", "name": "add item", "weight": 2, "expect_status": [200, 201],
             "json": {"q": 1}, "headers": {"X-Token": "abc"}},
        ],
        "wait_time_ms": {"min": 100, "max": 500}, "thresholds": {"p95_ms": 300.0},
    }  # fmt: skip


def test_rows_keep_their_numeric_order_and_text_that_is_no_number_goes_to_the_api_as_typed():
    form = ScenarioForm.from_form(posted(**{
        "requests-10-path": "/ten", "requests-2-path": "/two", "requests-2-weight": "many", "wait_min": "soon",
    }))  # fmt: skip
    body, sent_rows, _errors = form.body()
    assert [spec["path"] for spec in body["requests"]] == ["/two", "/ten"] and sent_rows == [0, 1]
    assert body["requests"][0]["weight"] == "many" and body["wait_time_ms"] == {"min": "soon"}


def test_what_cannot_be_sent_as_typed_is_an_error_on_its_row():
    form = ScenarioForm.from_form(posted(**{
        "requests-0-path": "/", "requests-0-body": "{not json", "requests-0-body_kind": "json",
        "requests-1-path": "/", "requests-1-expect_status": "ok", "requests-1-headers": "no colon here",
    }))  # fmt: skip
    _body, _rows, errors = form.body()
    assert set(errors) == {"requests-0-body", "requests-1-expect_status", "requests-1-headers"}
    assert errors["requests-0-body"].startswith("not valid JSON")


def test_a_text_body_is_sent_as_body():
    form = ScenarioForm.from_form(
        posted(**{"requests-0-path": "/", "requests-0-body": "a=1", "requests-0-body_kind": "text"})
    )
    assert form.body()[0]["requests"][0]["body"] == "a=1"


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("requests.1.path", "requests-3-path"),  # the second request sent came from the fourth row
        ("requests.0.json", "requests-0-body"),
        ("requests.0.expect_status.0", "requests-0-expect_status"),
        ("requests.1", "requests-3"),  # a whole-request problem ("give either json or body")
        ("requests", "requests"),
        ("wait_time_ms.max", "wait_max"),
        ("wait_time_ms", "wait"),
        ("thresholds.p95_ms", "p95_ms"),
        ("host", "host"),
        ("target.params", "params"),
    ],
)
def test_an_api_field_is_shown_beside_the_form_field_it_came_from(field, key):
    assert form_key(field, [0, 3]) == key


def test_field_errors_join_messages_of_one_field_and_fall_back_to_the_message():
    details = [
        {"field": "requests.0.path", "message": "String should have at least 1 character"},
        {"field": "requests.0.path", "message": "path must start with a single '/'"},
        {"field": "host", "message": "host not allowed"},
    ]
    failure = ApiCallFailed(422, "validation_error", "requests.0.path: ...", details)
    assert field_errors(failure, [2]) == {
        "requests-2-path": "String should have at least 1 character; path must start with a single '/'",
        "host": "host not allowed",
    }
    assert field_errors(ApiCallFailed(409, "conflict", "a run is already active")) == {
        "form": "a run is already active"
    }
    assert describe_key("requests-2-expect_status") == "request 3, expect status" and describe_key("p95_ms") == "p95 ms"


def test_a_scenario_from_the_api_fills_the_form_and_sends_back_the_same_requests():
    saved = {"name": "s", "host": "http://h:1", "wait_time_ms": {"min": 0, "max": 10}, "thresholds": {"min_rps": 5},
             "requests": [{"name": "GET /", "method": "GET", "path": "/", "weight": 3, "expect_status": [200],
                           "headers": {"A": "b"}, "json": None, "body": None},
                          {"name": "post", "method": "POST", "path": "/p", "weight": 1, "expect_status": None,
                           "headers": {}, "json": None, "body": "raw"}]}  # fmt: skip
    body, rows, errors = ScenarioForm.from_scenario(saved).body()
    assert errors == {} and rows == [0, 1]
    assert body["requests"] == [
        {"method": "GET", "path": "/", "name": "GET /", "weight": 3, "expect_status": [200], "headers": {"A": "b"}},
        {"method": "POST", "path": "/p", "name": "post", "weight": 1, "body": "raw"},
    ]
    assert body["wait_time_ms"] == {"min": 0, "max": 10} and body["thresholds"] == {"min_rps": 5.0}


def test_the_run_form_sends_numbers_and_a_duration():
    assert run_body(posted(user_count="2", spawn_rate="", run_time="60", workers="0")) == {
        "user_count": 2, "run_time": 60, "workers": 0
    }  # fmt: skip
    assert run_body(posted(user_count="x", spawn_rate="1.5", run_time="1m")) == {
        "user_count": "x", "spawn_rate": 1.5, "run_time": "1m"
    }  # fmt: skip


def test_the_series_has_epoch_seconds_and_one_list_per_line():
    run = {"state": "running", "history": [
        {"t": "2026-12-01T09:00:00Z", "users": 1, "rps": 2.0, "failures_per_s": 0.0, "p50_ms": 3.0, "p95_ms": 9.0},
        {"t": "2026-12-01T09:00:01Z", "users": 2, "rps": 4.0, "failures_per_s": 1.0, "p50_ms": 4.0, "p95_ms": 8.0},
    ]}  # fmt: skip
    series = load_runs.series_of(run)
    assert series["t"][1] - series["t"][0] == 1 and series["active"] is True
    assert series["users"] == [1, 2] and series["p95_ms"] == [9.0, 8.0]
    assert load_runs.series_of({"state": "stopped", "history": None})["active"] is False


def test_schedule_params_must_be_json():
    body, errors = schedules.schedule_body(posted(name="n", cron="@daily", kind="perf-test", id="x", params="{"))
    assert "params" in errors
    body, errors = schedules.schedule_body(posted(name="n", cron="@daily", kind="web-test", id="x", params=""))
    assert (
        errors == {} and body["target"] == {"kind": "web-test", "id": "x", "params": {}} and body["timezone"] == "UTC"
    )


# --- the pages over a fake API -----------------------------------------------------------------------------------


class FakeApi:
    """Answers by (method, path); a refusal is an ApiCallFailed in the table; every call is recorded."""

    def __init__(self, answers: dict[tuple[str, str], Any]):
        self.answers, self.calls = answers, []

    def _answer(self, method: str, path: str, body: Any = None) -> Any:
        self.calls.append((method, path, body))
        answer = self.answers[(method, path)]
        if isinstance(answer, ApiCallFailed):
            raise answer
        return answer

    def get(self, path: str, **_params: Any) -> Any:
        return self._answer("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self._answer("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self._answer("PUT", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self._answer("PATCH", path, body)


@pytest.fixture()
def fake(monkeypatch):
    def install(answers):
        fake_api = FakeApi(answers)
        for module in (scenarios, load_runs, schedules):
            monkeypatch.setattr(module, "api", lambda: fake_api)
        return fake_api

    return install


def test_a_refused_scenario_shows_the_message_beside_the_row_and_keeps_what_was_typed(admin_client, fake):
    details = [{"field": "requests.0.path", "message": "String should have at least 1 character"}]
    fake({("POST", paths.SCENARIOS): ApiCallFailed(422, "validation_error", "requests.0.path: ...", details)})
    token = csrf_of(admin_client, "/scenarios/new")
    answer = admin_client.post("/scenarios", data={
        "csrf_token": token, "action": "save", "name": "kept name", "host": "http://127.0.0.1:9",
        "requests-0-path": "", "requests-0-name": "home", "requests-1-path": "/", "requests-1-name": "",
    })  # fmt: skip
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert '<span class="field-error" id="requests-0-path-error">String should have at least 1 character</span>' in html
    assert 'value="kept name"' in html and 'value="home"' in html and "Traceback" not in html


def test_add_and_remove_a_row_without_saving(admin_client, fake):
    api = fake({})
    token = csrf_of(admin_client, "/scenarios/new")
    added = admin_client.post("/scenarios", data={"csrf_token": token, "action": "add-row", "requests-0-path": "/a"})
    assert 'id="requests-1-path"' in added.get_data(as_text=True)
    removed = admin_client.post("/scenarios", data={"csrf_token": token, "remove": "0", "requests-0-path": "/a",
                                                    "requests-1-path": "/b"})  # fmt: skip
    html = removed.get_data(as_text=True)
    assert 'value="/b"' in html and 'value="/a"' not in html and api.calls == []


def test_a_saved_scenario_goes_to_its_page(admin_client, fake):
    api = fake({("POST", paths.SCENARIOS): {"id": SCENARIO_ID}})
    token = csrf_of(admin_client, "/scenarios/new")
    saved = admin_client.post("/scenarios", data={"csrf_token": token, "name": "n", "host": "http://h:1",
                                                  "requests-0-path": "/"})  # fmt: skip
    assert saved.status_code == 303 and saved.headers["Location"] == f"/scenarios/{SCENARIO_ID}"
    assert api.calls[0][2]["requests"] == [{"method": "GET", "path": "/"}]


RUN = {
    "run_id": RUN_ID, "state": "running", "scenario_id": SCENARIO_ID, "scenario_name": "home", "owner": "admin",
    "params": {"user_count": 2, "spawn_rate": 2.0, "run_time": 60, "workers": 0}, "elapsed_ms": 3000, "users": 2,
    "started_at": "2026-12-01T09:00:00Z", "finished_at": None, "error": None, "report_url": None,
    "stats_csv_url": None, "thresholds": [],
    "history": [{"t": "2026-12-01T09:00:01Z", "users": 2, "rps": 12.5, "failures_per_s": 0, "p50_ms": 3, "p95_ms": 7}],
    "stats": {"total": {"requests": 30, "failures": 0, "rps": 12.5, "p50_ms": 3, "p95_ms": 7, "p99_ms": 9},
              "endpoints": [{"name": "home", "method": "GET", "requests": 30, "failures": 0, "rps": 12.5,
                             "p50_ms": 3, "p95_ms": 7, "p99_ms": 9}], "errors": []},
}  # fmt: skip


def test_a_running_load_run_polls_offers_stop_and_describes_its_charts(admin_client, fake):
    fake({("GET", f"{paths.PERF_RUNS}/{RUN_ID}"): RUN})
    html = admin_client.get(f"/load-runs/{RUN_ID}").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in html and "Stop load run" in html
    assert "Latest: 2 users, 12.5 requests/s, 0.0 failures/s." in html and '<th scope="row">home</th>' in html


def test_a_finished_load_run_stops_polling_links_its_files_and_drops_the_stop_button(admin_client, fake):
    done = RUN | {"state": "passed", "report_url": "x", "stats_csv_url": "y",
                  "thresholds": [{"name": "p95_ms", "limit": 300, "actual": 7, "passed": True}]}  # fmt: skip
    fake({("GET", f"{paths.PERF_RUNS}/{RUN_ID}"): done})
    live = admin_client.get(f"/load-runs/{RUN_ID}/live", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in live and 'id="stop-control" hx-swap-oob="true"' in live
    assert f"/load-runs/{RUN_ID}/report.html" in live and f"/load-runs/{RUN_ID}/stats.csv" in live and ">pass<" in live
    assert admin_client.get(f"/load-runs/{RUN_ID}/series.json").json["active"] is False


def test_stop_asks_the_api_to_stop_the_scenarios_run(admin_client, fake):
    api = fake({("GET", f"{paths.PERF_RUNS}/{RUN_ID}"): RUN, ("POST", f"{paths.SCENARIOS}/{SCENARIO_ID}/stop"): {}})
    token = csrf_of(admin_client, f"/load-runs/{RUN_ID}")
    stopped = admin_client.post(f"/load-runs/{RUN_ID}/stop", data={"csrf_token": token})
    assert stopped.status_code == 303 and ("POST", f"{paths.SCENARIOS}/{SCENARIO_ID}/stop", None) in api.calls


def test_a_refused_write_shows_the_apis_message_as_a_page(admin_client, fake):
    refusal = ApiCallFailed(403, "forbidden", "viewers may only read")
    fake({("GET", f"{paths.PERF_RUNS}/{RUN_ID}"): RUN, ("POST", f"{paths.SCENARIOS}/{SCENARIO_ID}/stop"): refusal})
    token = csrf_of(admin_client, f"/load-runs/{RUN_ID}")
    refused = admin_client.post(f"/load-runs/{RUN_ID}/stop", data={"csrf_token": token})
    assert refused.status_code == 403 and "viewers may only read" in refused.get_data(as_text=True)


SCHEDULE = {
    "id": "c" * 32, "owner": "admin", "owner_role": "admin", "name": "nightly", "cron": "0 3 * * *",
    "timezone": "Europe/Berlin", "enabled": True, "target": {"kind": "perf-test", "id": SCENARIO_ID, "params": {}},
    "next_fire_times": ["2026-12-03T02:00:00Z", "2026-12-04T02:00:00Z"], "last_fired_at": None,
    "last_outcome": {"status": "started", "trigger": "manual", "fired_at": "2026-12-02T09:00:00Z", "run_id": RUN_ID},
}  # fmt: skip


def test_schedules_list_their_next_fire_times_and_the_run_a_trigger_started(admin_client, fake):
    fake({("GET", paths.SCHEDULES): {"items": [SCHEDULE], "total": 1, "limit": 20, "offset": 0}})
    html = admin_client.get("/schedules").get_data(as_text=True)
    assert '<time datetime="2026-12-03T02:00:00Z">' in html and f'href="/load-runs/{RUN_ID}"' in html
    assert 'aria-label="Disable nightly"' in html and "Create schedule" in html


def test_a_refused_schedule_shows_the_message_beside_the_field_and_keeps_the_form(admin_client, fake):
    details = [{"field": "cron", "message": "not a cron expression"}, {"field": "target.id", "message": "bad id"}]
    fake({("GET", paths.SCHEDULES): {"items": [], "total": 0, "limit": 20, "offset": 0},
          ("POST", paths.SCHEDULES): ApiCallFailed(422, "validation_error", "cron: ...", details)})  # fmt: skip
    token = csrf_of(admin_client, "/tokens")
    answer = admin_client.post("/schedules", data={"csrf_token": token, "name": "kept", "cron": "every day",
                                                   "kind": "perf-test", "id": "x!", "params": "{}"})  # fmt: skip
    html = answer.get_data(as_text=True)
    assert (
        answer.status_code == 422 and 'id="cron-error">not a cron expression' in html and 'id="id-error">bad id' in html
    )
    assert 'value="kept"' in html and 'value="every day"' in html


def test_enable_and_trigger_go_back_to_the_page_of_the_list(admin_client, fake):
    path = f"{paths.SCHEDULES}/{SCHEDULE['id']}"
    api = fake({("PATCH", path): SCHEDULE, ("POST", path + "/trigger"): {}})
    token = csrf_of(admin_client, "/tokens")
    changed = admin_client.post(f"/schedules/{SCHEDULE['id']}/enabled", data={"csrf_token": token, "enabled": "false",
                                                                               "offset": "20"})  # fmt: skip
    assert changed.headers["Location"] == "/schedules?offset=20" and api.calls[0] == ("PATCH", path, {"enabled": False})
    fired = admin_client.post(f"/schedules/{SCHEDULE['id']}/trigger", data={"csrf_token": token, "offset": "//x"})
    assert fired.headers["Location"] == "/schedules" and api.calls[1][:2] == ("POST", path + "/trigger")


def test_the_load_pages_files_are_served_and_nothing_else_is(client):
    assert client.get("/assets/load-charts.js").data.startswith(b"// Live charts")
    assert client.get("/assets/load-pages.css").status_code == 200
    assert client.get("/assets/no-such-file.css").status_code == 404
