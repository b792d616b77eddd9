"""Project runs through the API, no worker: what a start selects and refuses, unrunnable tests, stop, history, the
list of every project run you may see."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from junitparser import Error, JUnitXml

pytestmark = pytest.mark.timeout(60)
API = "/api/v1/web-test"


def side_test(test_id, name, commands):
    return {"id": test_id, "name": name, "commands": [
        {"id": f"{test_id}-{i}", "command": c, "target": t, "targets": [], "value": v}
        for i, (c, t, v) in enumerate(commands)
    ]}  # fmt: skip


def shop():
    tests = [
        side_test("t1", "login works", [("open", "/login.html", "")]),
        side_test("t2", "login fails", [("open", "/login.html", "")]),
        side_test("t3", "cart", [("open", "/cart.html", ""), ("customClick", "id=buy", "")]),
    ]
    suites = [
        {"id": "s1", "name": "smoke", "persistSession": True, "parallel": False, "timeout": 60, "tests": ["t1", "t2"]},
        {"id": "s2", "name": "nightly", "persistSession": False, "parallel": True, "timeout": 30000,
         "tests": ["t3", "t1"]},
    ]  # fmt: skip
    return {"id": "p", "version": "3.0", "name": "shop", "url": "http://127.0.0.1:1", "tests": tests, "suites": suites}


@pytest.fixture()
def project(client, auth_header):
    created = client.post(f"{API}/projects", json=shop(), headers=auth_header("tester", "alice"))
    assert created.status_code == 201, created.json
    return created.json


def start(client, headers, project_id, body=None):
    return client.post(f"{API}/projects/{project_id}/run", json=body or {}, headers=headers)


def test_a_start_has_a_child_run_per_test_and_settles_an_unrunnable_one_at_once(client, auth_header, project):
    alice = auth_header("tester", "alice")
    started = start(client, alice, project["project"]["id"], {"base_url": "http://127.0.0.1:2", "retries": 2})
    assert started.status_code == 202, started.json
    run = started.json
    assert run["id"] == run["project_run_id"] and run["state"] == "running" and run["total"] == 4
    assert run["params"]["retries"] == 2 and run["params"]["base_url"] == "http://127.0.0.1:2"
    assert [(s["name"], [t["name"] for t in s["tests"]]) for s in run["suites"]] == [
        ("smoke", ["login works", "login fails"]), ("nightly", ["cart", "login works"])
    ]  # fmt: skip
    cart = run["suites"][1]["tests"][0]
    assert cart["state"] == "error" and len(cart["attempts"]) == 1  # never retried: it would fail the same way
    error = cart["attempts"][0]["error"]
    assert error["code"] == "unrunnable" and "customClick" in error["message"]
    assert cart["attempts"][0]["started_at"] is None  # no browser started for it
    assert run["counts"] == {"queued": 3, "running": 0, "passed": 0, "failed": 0, "error": 1, "stopped": 0,
                                  "flaky": 0}  # fmt: skip
    child = client.get(f"{API}/runs/{run['suites'][0]['tests'][0]['run_id']}", headers=alice).json
    assert child["base_url"] == "http://127.0.0.1:2" and child["state"] == "queued"
    xml = client.get(f"{API}/project-runs/{run['id']}/junit.xml", headers=alice)
    suites = list(JUnitXml.fromstring(xml.data))
    assert [(s.name, s.tests) for s in suites] == [("smoke", 2), ("nightly", 2)]
    errors = [case for case in suites[1] if any(isinstance(r, Error) for r in case.result)]
    assert [case.name for case in errors] == ["cart"] and "customClick" in errors[0].result[0].message


def test_suite_and_filter_select_tests(client, auth_header, project):
    alice, project_id = auth_header("tester", "alice"), project["project"]["id"]
    smoke = start(client, alice, project_id, {"suite": "smoke"}).json
    assert [s["name"] for s in smoke["suites"]] == ["smoke"] and smoke["total"] == 2
    filtered = start(client, alice, project_id, {"filter": "^login w"}).json
    assert [(s["name"], [t["name"] for t in s["tests"]]) for s in filtered["suites"]] == [
        ("smoke", ["login works"]), ("nightly", ["login works"])
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"suite": "nope"}, "suite"),
        ({"filter": "("}, "filter"),
        ({"filter": "^nothing$"}, "filter"),
        ({"retries": 6}, "retries"),
        ({"retries": "1"}, "retries"),
        ({"priority": 10}, "priority"),
        ({"base_url": "file:///etc/passwd"}, "base_url"),
        ({"variables": {"": 1}}, "variables"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_a_bad_start_is_a_422_naming_the_field(client, auth_header, project, body, field):
    resp = start(client, auth_header("tester", "alice"), project["project"]["id"], body)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["error"]["message"], resp.json


def test_a_backtracking_filter_is_refused_not_run_forever(client, auth_header):
    alice = auth_header("tester", "alice")
    side = shop()
    side["tests"][0]["name"] = "a" * 60 + "!"
    project_id = client.post(f"{API}/projects", json=side, headers=alice).json["project"]["id"]
    resp = start(client, alice, project_id, {"filter": "(a|aa)+$"})  # exponential in a backtracking engine
    assert resp.status_code == 422 and resp.json["error"]["details"][0]["field"] == "filter", resp.json
    assert "took more than" in resp.json["error"]["message"]


def test_stop_settles_every_queued_child_and_history_lists_the_run(client, auth_header, project):
    alice, bob = auth_header("tester", "alice"), auth_header("tester", "bob")
    project_id = project["project"]["id"]
    run = start(client, alice, project_id).json
    assert client.post(f"{API}/project-runs/{run['id']}/stop", headers=bob).status_code == 404
    assert client.post(f"{API}/project-runs/{run['id']}/stop", headers=auth_header("viewer")).status_code == 403
    stopped = client.post(f"{API}/project-runs/{run['id']}/stop", headers=alice)
    assert stopped.status_code == 202 and stopped.json["state"] == "error", stopped.json  # the unrunnable test
    assert stopped.json["counts"]["stopped"] == 3 and stopped.json["finished_at"] is not None
    assert client.get(f"{API}/project-runs/{run['id']}", headers=alice).json["state"] == "error"
    smoke = start(client, alice, project_id, {"suite": "smoke"}).json
    assert client.post(f"{API}/project-runs/{smoke['id']}/stop", headers=alice).json["state"] == "stopped"
    history = client.get(f"{API}/projects/{project_id}/runs", headers=alice).json
    assert [(item["id"], item["state"]) for item in history["items"]] == [
        (smoke["id"], "stopped"), (run["id"], "error")
    ]  # fmt: skip
    assert history["total"] == 2
    assert history["items"][0]["junit_url"].endswith(f"/project-runs/{smoke['id']}/junit.xml")
    assert client.get(f"{API}/projects/{project_id}/runs", headers=bob).status_code == 404
    assert client.get(f"{API}/project-runs/{run['id']}", headers=bob).status_code == 404


def test_a_project_run_does_not_block_a_run_of_its_scripts(client, auth_header, project):
    alice = auth_header("tester", "alice")
    start(client, alice, project["project"]["id"])
    login = project["scripts"][0]["id"]
    assert client.post(f"{API}/scripts/{login}/run", headers=alice).status_code == 202
    assert client.post(f"{API}/scripts/{login}/run", headers=alice).status_code == 409  # one standalone run at a time
    assert client.delete(f"{API}/projects/{project['project']['id']}", headers=alice).status_code == 409


def test_reading_a_running_project_run_stores_nothing_of_its_live_state(client, app, auth_header, project):
    """The live state is computed, never set on the row: a request that read the run while it ran would write
    "running" back over the verdict a lane or a stop stored meanwhile at its next commit (seen on PostgreSQL)."""
    from web_test_service.models import ProjectRun, Run
    from web_test_service.project_runs import refresh_state

    alice = auth_header("tester", "alice")
    run = start(client, alice, project["project"]["id"], {"suite": "smoke"}).json
    with app.extensions["db"].session_factory() as session:
        session.get(Run, run["suites"][0]["tests"][0]["run_id"]).state = "running"
        session.commit()
        project_run = session.get(ProjectRun, run["id"])
        assert refresh_state(session, project_run) == "running"
        assert project_run not in session.dirty and project_run.state == "queued"  # as inserted
    history = client.get(f"{API}/projects/{project['project']['id']}/runs", headers=alice).json
    assert history["items"][0]["state"] == "running"


def test_a_project_without_suites_runs_every_test_in_order(client, auth_header):
    alice = auth_header("tester", "alice")
    side = {**shop(), "suites": []}
    project_id = client.post(f"{API}/projects", json=side, headers=alice).json["project"]["id"]
    run = start(client, alice, project_id).json
    assert [(s["name"], s["parallel"], [t["name"] for t in s["tests"]]) for s in run["suites"]] == [
        ("shop", False, ["login works", "login fails", "cart"])
    ]  # fmt: skip
    assert start(client, alice, project_id, {"suite": "smoke"}).status_code == 422  # no suite of that name


# --- GET /project-runs ----------------------------------------------------------------------


@pytest.fixture()
def project_runs(client, auth_header, project):
    """Project runs made in this order: alice's smoke (queued), whole project (running: its unrunnable test has
    settled), smoke again, stopped; bob's own project, whole (running). Their ids, and the projects'."""
    alice, bob = auth_header("tester", "alice"), auth_header("tester", "bob")
    mine = project["project"]["id"]
    bobs = client.post(f"{API}/projects", json=shop(), headers=bob).json["project"]["id"]
    ids = {"alice-project": mine, "bob-project": bobs}
    ids["smoke"] = start(client, alice, mine, {"suite": "smoke"}).json["id"]
    ids["whole"] = start(client, alice, mine).json["id"]
    ids["stopped"] = start(client, alice, mine, {"suite": "smoke"}).json["id"]
    assert client.post(f"{API}/project-runs/{ids['stopped']}/stop", headers=alice).json["state"] == "stopped"
    ids["bob"] = start(client, bob, bobs).json["id"]
    return ids


def project_run_list(client, headers, query=""):
    resp = client.get(f"{API}/project-runs{query}", headers=headers)
    assert resp.status_code == 200, resp.json
    return resp.json


def listed_ids(page):
    return [item["id"] for item in page["items"]]


def test_the_list_is_newest_first_paginated_and_scoped_to_the_owner(client, auth_header, project_runs):
    runs, viewer = project_runs, auth_header("viewer")
    everything = project_run_list(client, viewer)
    assert listed_ids(everything) == [runs["bob"], runs["stopped"], runs["whole"], runs["smoke"]]
    assert [item["state"] for item in everything["items"]] == ["running", "stopped", "running", "queued"]
    assert (everything["total"], everything["limit"], everything["offset"]) == (4, 50, 0)
    window = project_run_list(client, viewer, "?limit=2&offset=1")
    assert listed_ids(window) == [runs["stopped"], runs["whole"]] and window["total"] == 4
    alice = project_run_list(client, auth_header("tester", "alice"))
    assert listed_ids(alice) == [runs["stopped"], runs["whole"], runs["smoke"]] and alice["total"] == 3
    assert listed_ids(project_run_list(client, auth_header("tester", "bob"))) == [runs["bob"]]
    assert project_run_list(client, auth_header("admin"))["total"] == 4


def test_items_are_those_of_a_projects_history(client, auth_header, project_runs):
    alice = auth_header("tester", "alice")
    history = client.get(f"{API}/projects/{project_runs['alice-project']}/runs", headers=alice).json
    assert project_run_list(client, alice, f"?project_id={project_runs['alice-project']}") == history
    assert set(history["items"][0]) == {"id", "project_run_id", "owner", "project_id", "project_name", "state",
                                        "params", "created_at", "finished_at", "junit_url"}  # fmt: skip


def test_the_list_filters_by_state_and_project(client, auth_header, project_runs):
    runs, viewer, alice = project_runs, auth_header("viewer"), auth_header("tester", "alice")
    assert listed_ids(project_run_list(client, viewer, "?state=queued")) == [runs["smoke"]]
    assert listed_ids(project_run_list(client, viewer, "?state=running")) == [runs["bob"], runs["whole"]]
    assert listed_ids(project_run_list(client, alice, "?state=running")) == [runs["whole"]]
    assert listed_ids(project_run_list(client, viewer, "?state=stopped")) == [runs["stopped"]]
    assert project_run_list(client, viewer, "?state=passed")["total"] == 0
    of_bob = project_run_list(client, viewer, f"?project_id={runs['bob-project']}")
    assert listed_ids(of_bob) == [runs["bob"]]
    assert project_run_list(client, alice, f"?project_id={runs['bob-project']}")["total"] == 0  # not alice's
    mine_running = f"?project_id={runs['alice-project']}&state=running"
    assert listed_ids(project_run_list(client, viewer, mine_running)) == [runs["whole"]]


def test_the_state_filter_lists_what_each_run_shows(client, app, auth_header, project_runs):
    """A retry queued after a failed attempt leaves its run queued; a run whose tests the reaper settled has no
    verdict stored until it is read: the filter and the items agree on both."""
    from web_test_service.models import ProjectRun, Run

    runs, viewer = project_runs, auth_header("viewer")
    with app.extensions["db"].session_factory() as session:
        first = session.scalars(sa.select(Run).where(Run.project_run_id == runs["smoke"], Run.position == 0)).one()
        first.state = "failed"
        retry = {c: getattr(first, c) for c in ("owner", "script_id", "script_name", "project_run_id", "suite_index")}
        session.add(Run(**retry, position=0, attempt=2, state="queued", attempts=0, priority=5))
        for child in session.scalars(sa.select(Run).where(Run.project_run_id == runs["whole"])):
            child.state = "passed" if child.state == "queued" else child.state  # as the reaper would settle them
        session.commit()
    assert listed_ids(project_run_list(client, viewer, "?state=queued")) == [runs["smoke"]]
    assert client.get(f"{API}/project-runs/{runs['smoke']}", headers=viewer).json["state"] == "queued"
    assert listed_ids(project_run_list(client, viewer, "?state=running")) == [runs["bob"]]
    assert listed_ids(project_run_list(client, viewer, "?state=error")) == [runs["whole"]]  # its unrunnable test
    with app.extensions["db"].session_factory() as session:
        settled = session.get(ProjectRun, runs["whole"])
        assert settled.state == "error" and settled.finished_at is not None  # stored by the list
    for state in ("queued", "running", "passed", "failed", "error", "stopped"):
        items = project_run_list(client, viewer, f"?state={state}")["items"]
        assert {item["state"] for item in items} <= {state}, state
    everything = project_run_list(client, viewer)["items"]
    assert sorted(item["state"] for item in everything) == ["error", "queued", "running", "stopped"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("?state=finished", "state"), ("?project_id=a%00", "project_id"), ("?project_id=a%20b", "project_id"),
     ("?limit=501", "limit")],
)  # fmt: skip
def test_a_bad_list_parameter_is_a_422_naming_it(client, auth_header, query, field):
    resp = client.get(f"{API}/project-runs{query}", headers=auth_header("tester", "alice"))
    assert resp.status_code == 422, resp.json
    assert [detail["field"] for detail in resp.json["error"]["details"]] == [field]
