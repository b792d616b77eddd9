"""Scenarios API: CRUD, validation, raw locustfiles for admins only, host policy, run limits, ownership."""

from __future__ import annotations

import jsonschema
import pytest

pytestmark = pytest.mark.timeout(120)
API = "/api/v1/perf-test"
SCENARIO = {
    "name": "home page",
    "host": "http://127.0.0.1:8999",
    "requests": [{"name": "home", "method": "GET", "path": "/", "expect_status": 200, "weight": 3},
                 {"name": "create", "method": "POST", "path": "/items", "json": {"a": 1}}],
    "wait_time_ms": {"min": 0, "max": 10},
    "thresholds": {"max_failure_ratio": 0.01, "p95_ms": 500},
}  # fmt: skip
LOCUSTFILE = """from locust import HttpUser, task


class U(HttpUser):
    @task
    def home(self):
        self.client.get("/")
"""


def test_crud_round_trip(client, auth_header):
    alice = auth_header("tester", "alice")
    created = client.post(f"{API}/scenarios", json=SCENARIO, headers=alice)
    assert created.status_code == 201, created.json
    sid = created.json["id"]
    assert created.json["requests"][1]["json"] == {"a": 1}
    assert client.get(f"{API}/scenarios", headers=alice).json["total"] == 1
    assert client.put(f"{API}/scenarios/{sid}", json={**SCENARIO, "name": "v2"}, headers=alice).json["name"] == "v2"
    assert client.delete(f"{API}/scenarios/{sid}", headers=alice).status_code == 204
    assert client.get(f"{API}/scenarios/{sid}", headers=alice).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [({**SCENARIO, "requests": []}, "requests"), ({**SCENARIO, "host": "ftp://x"}, "host"),
     ({**SCENARIO, "requests": [{"path": "/", "weight": 0}]}, "requests.0.weight"),
     ({**SCENARIO, "thresholds": {"max_failure_ratio": 2}}, "thresholds.max_failure_ratio")],
)  # fmt: skip
def test_bad_scenarios_are_422_naming_the_field(client, auth_header, body, field):
    resp = client.post(f"{API}/scenarios", json=body, headers=auth_header("tester"))
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["details"][0]["field"] == field


@pytest.mark.parametrize("host", ["http://10.0.0.5", "http://169.254.169.254", "http://[::ffff:169.254.169.254]",
                                  "http://example.com", "http://192.168.1.1:8080"])  # fmt: skip
def test_hosts_outside_the_allow_list_are_refused(client, auth_header, host):
    resp = client.post(f"{API}/scenarios", json={**SCENARIO, "host": host}, headers=auth_header("tester"))
    assert resp.status_code == 422
    assert resp.json["error"]["details"][0]["field"] == "host"


def test_locustfile_is_for_admins_and_checked(client, auth_header):
    body = {"name": "raw", "host": "http://127.0.0.1:8999", "locustfile": LOCUSTFILE}
    assert client.post(f"{API}/scenarios", json=body, headers=auth_header("tester")).status_code == 403
    ok = client.post(f"{API}/scenarios", json=body, headers=auth_header("admin"))
    assert ok.status_code == 201 and ok.json["locustfile"] == LOCUSTFILE
    no_user = client.post(f"{API}/scenarios", json={**body, "locustfile": "x = 1\n"}, headers=auth_header("admin"))
    assert no_user.status_code == 422 and no_user.json["error"]["details"][0]["field"] == "locustfile"
    broken = client.post(f"{API}/scenarios", json={**body, "locustfile": "import nope\n"}, headers=auth_header("admin"))
    assert broken.status_code == 422 and "nope" in broken.json["error"]["message"]


@pytest.mark.parametrize(
    "params, field",
    [({"user_count": 0, "run_time": "10s"}, "user_count"), ({"user_count": 10**6, "run_time": "10s"}, "user_count"),
     ({"user_count": 1, "run_time": "forever"}, "run_time"), ({"user_count": 1, "run_time": "99h"}, "run_time"),
     ({"user_count": 1}, "run_time"), ({"user_count": 1, "run_time": 5, "workers": -1}, "workers"),
     ({"user_count": 1, "run_time": 5, "priority": 12}, "priority")],
)  # fmt: skip
def test_run_params_are_validated(client, auth_header, params, field):
    alice = auth_header("tester", "alice")
    sid = client.post(f"{API}/scenarios", json=SCENARIO, headers=alice).json["id"]
    resp = client.post(f"{API}/scenarios/{sid}/run", json=params, headers=alice)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["details"][0]["field"] == field


def test_run_is_queued_409_while_active_and_stoppable(client, auth_header):
    alice = auth_header("tester", "alice")
    sid = client.post(f"{API}/scenarios", json=SCENARIO, headers=alice).json["id"]
    first = client.post(f"{API}/scenarios/{sid}/run", json={"user_count": 2, "run_time": "1m30s"}, headers=alice)
    assert first.status_code == 202 and first.json["state"] == "queued"
    assert (
        client.post(f"{API}/scenarios/{sid}/run", json={"user_count": 1, "run_time": 5}, headers=alice).status_code
        == 409
    )
    status = client.get(f"{API}/scenarios/{sid}/status", headers=alice).json
    assert status["params"]["run_time"] == 90 and status["params"]["user_count"] == 2
    assert client.post(f"{API}/scenarios/{sid}/stop", headers=alice).json["state"] == "stopped"
    assert client.post(f"{API}/scenarios/{sid}/stop", headers=alice).status_code == 409


def test_ownership(client, auth_header):
    sid = client.post(f"{API}/scenarios", json=SCENARIO, headers=auth_header("tester", "alice")).json["id"]
    bob = auth_header("tester", "bob")
    assert client.get(f"{API}/scenarios/{sid}", headers=bob).status_code == 404
    assert (
        client.post(f"{API}/scenarios/{sid}/run", json={"user_count": 1, "run_time": 5}, headers=bob).status_code == 404
    )
    assert client.get(f"{API}/scenarios/{sid}", headers=auth_header("viewer")).status_code == 200
    assert client.post(f"{API}/scenarios/{sid}/run", json={"user_count": 1, "run_time": 5},
                       headers=auth_header("viewer")).status_code == 403  # fmt: skip
    assert client.get(f"{API}/scenarios", headers=auth_header("admin")).json["total"] == 1


def test_cleanup_deletes_exactly_the_old_finished_runs(app):
    from datetime import timedelta

    from perf_test_service.models import RUNS, Run
    from shared.db import utcnow
    from shared.runs.retention import delete_runs_older_than

    def run(age_days: float, state: str) -> Run:
        created = utcnow() - timedelta(days=age_days)
        return Run(owner="alice", scenario_name="s", state=state, priority=5, attempts=1, params={}, elapsed_ms=0,
                   users=0, worker_count=0, report_html="<html>", created_at=created)  # fmt: skip

    with app.extensions["db"].session_factory() as session:
        old, old_error, young, old_active = run(40, "passed"), run(31, "error"), run(29, "failed"), run(40, "running")
        session.add_all([old, old_error, young, old_active])
        session.commit()
        counts = delete_runs_older_than(session, RUNS, utcnow() - timedelta(days=30))
        assert counts == {"runs": 2}
        assert {r.id for r in session.query(Run)} == {young.id, old_active.id}  # an active run is never deleted
        assert delete_runs_older_than(session, RUNS, utcnow() - timedelta(days=30)) == {"runs": 0}


def _request(**fields):
    return {**SCENARIO, "requests": [{"path": "/", **fields}]}


# Wrong types, non-finite and huge numbers: each a 422 naming the field, none saved (issue 11).
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SCENARIO, "thresholds": {"p95_ms": "inf"}}, "thresholds.p95_ms"),  # saved, then read back as Infinity
        ({**SCENARIO, "thresholds": {"p95_ms": "nan"}}, "thresholds.p95_ms"),
        ({**SCENARIO, "thresholds": {"p95_ms": 1e308}}, "thresholds.p95_ms"),
        ({**SCENARIO, "thresholds": {"min_rps": "5"}}, "thresholds.min_rps"),
        ({**SCENARIO, "wait_time_ms": {"min": True, "max": 10}}, "wait_time_ms.min"),
        ({**SCENARIO, "wait_time_ms": {"min": 0, "max": 2.5}}, "wait_time_ms.max"),
        (_request(weight=True), "requests.0.weight"),
        (_request(weight="3"), "requests.0.weight"),
        (_request(expect_status=[True]), "requests.0.expect_status.0"),
        (_request(headers={"X-A": 5}), "requests.0.headers.X-A"),
        (_request(body=["x"]), "requests.0.body"),
        (_request(method=["GET"]), "requests.0.method"),
        ({**SCENARIO, "requests": [[{"path": "/"}]]}, "requests.0"),
        ({**SCENARIO, "name": 5}, "name"),
    ],
    ids=["p95-inf", "p95-nan", "p95-1e308", "rps-string", "wait-bool", "wait-float", "weight-bool", "weight-string",
         "status-bool", "header-number", "body-list", "method-list", "request-nested", "name-number"],
)  # fmt: skip
def test_every_scenario_field_is_type_checked(client, auth_header, body, field):
    tester = auth_header("tester")
    resp = client.post(f"{API}/scenarios", json=body, headers=tester)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["details"][0]["field"] == field, resp.json
    assert client.get(f"{API}/scenarios", headers=tester).json["total"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [({"user_count": 1, "run_time": 5, "spawn_rate": "inf"}, "spawn_rate"),
     ({"user_count": 1, "run_time": 5, "spawn_rate": 1e308}, "spawn_rate"),
     ({"user_count": True, "run_time": 5}, "user_count"), ({"user_count": "3", "run_time": 5}, "user_count"),
     ({"user_count": 1, "run_time": 5, "workers": 1.0}, "workers"),
     ({"user_count": 1, "run_time": 5, "priority": True}, "priority")],
    ids=["spawn-inf", "spawn-1e308", "users-bool", "users-string", "workers-float", "priority-bool"],
)  # fmt: skip
def test_run_params_are_type_checked(client, auth_header, params, field):
    alice = auth_header("tester", "alice")
    sid = client.post(f"{API}/scenarios", json=SCENARIO, headers=alice).json["id"]
    resp = client.post(f"{API}/scenarios/{sid}/run", json=params, headers=alice)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["details"][0]["field"] == field
    assert client.get(f"{API}/scenarios/{sid}/runs", headers=alice).json["total"] == 0


def test_the_documented_run_body_is_the_one_the_service_takes(client, auth_header, settings):
    """The OpenAPI schema of a run body carries the service's caps: it and the service agree on every body."""
    doc = client.get(f"{API}/openapi.json").json
    operation = doc["paths"][f"{API}/scenarios/{{scenario_id}}/run"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["user_count"]["maximum"] == settings.perf_max_users
    most = settings.max_run_seconds
    bodies = [{"user_count": settings.perf_max_users, "run_time": most}, {"user_count": 1, "run_time": " 1M30s "},
              {"user_count": 1, "run_time": "90", "workers": settings.perf_max_workers, "priority": 9},
              {"user_count": settings.perf_max_users + 1, "run_time": 5}, {"user_count": 1, "run_time": most + 1},
              {"user_count": 1, "run_time": "forever"}, {"user_count": 1, "run_time": "h"},
              {"user_count": 1, "run_time": 5, "workers": settings.perf_max_workers + 1},
              {"user_count": 1, "run_time": 5, "spawn_rate": 2e6},
              {"user_count": 1, "run_time": 5, "colour": "red"}]  # fmt: skip
    alice = auth_header("tester", "alice")
    agreed = []
    for body in bodies:
        documented = jsonschema.Draft202012Validator(schema).is_valid(body)
        sid = client.post(f"{API}/scenarios", json=SCENARIO, headers=alice).json["id"]
        taken = client.post(f"{API}/scenarios/{sid}/run", json=body, headers=alice).status_code
        assert taken in (202, 422), body
        agreed.append((body, documented, taken == 202))
    assert [(body, documented) for body, documented, took in agreed if documented != took] == []
    assert sum(took for _, _, took in agreed) == 3
