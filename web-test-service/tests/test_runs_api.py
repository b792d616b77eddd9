"""GET /runs through the API, no worker: every web run you may see, newest first, paginated and filtered."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.timeout(60)
API = "/api/v1/web-test"


def script(name):
    return {"name": name, "base_url": "http://127.0.0.1:1", "commands": [{"command": "open", "target": "/"}]}


def side_project():
    tests = [{"id": f"t{i}", "name": f"test {i}", "commands": [{"command": "open", "target": "/"}]} for i in (1, 2)]
    return {"id": "p", "version": "2.0", "name": "shop", "url": "http://127.0.0.1:1", "tests": tests, "suites": []}


@pytest.fixture()
def runs(client, auth_header):
    """Runs made in this order: alice's login (stopped), login again, cart; bob's search. Their ids by name."""
    alice, bob = auth_header("tester", "alice"), auth_header("tester", "bob")
    ids = {}
    for owner, name in ((alice, "login"), (alice, "cart"), (bob, "search")):
        created = client.post(f"{API}/scripts", json=script(name), headers=owner)
        assert created.status_code == 201, created.json
        ids[name] = created.json["id"]

    def start(owner, name):
        started = client.post(f"{API}/scripts/{ids[name]}/run", headers=owner)
        assert started.status_code == 202, started.json
        return started.json["run_id"]

    ids["login-1"] = start(alice, "login")
    assert client.post(f"{API}/scripts/{ids['login']}/stop", headers=alice).json["state"] == "stopped"
    ids["login-2"], ids["cart-1"], ids["search-1"] = start(alice, "login"), start(alice, "cart"), start(bob, "search")
    return ids


def listed(client, headers, query=""):
    resp = client.get(f"{API}/runs{query}", headers=headers)
    assert resp.status_code == 200, resp.json
    return resp.json


def run_ids(page):
    return [item["run_id"] for item in page["items"]]


def test_newest_first_and_paginated(client, auth_header, runs):
    viewer = auth_header("viewer")
    everything = listed(client, viewer)
    assert run_ids(everything) == [runs["search-1"], runs["cart-1"], runs["login-2"], runs["login-1"]]
    assert (everything["total"], everything["limit"], everything["offset"]) == (4, 50, 0)
    window = listed(client, viewer, "?limit=2&offset=1")
    assert run_ids(window) == [runs["cart-1"], runs["login-2"]]
    assert (window["total"], window["limit"], window["offset"]) == (4, 2, 1)
    assert listed(client, viewer, "?offset=4")["items"] == []


def test_a_tester_sees_its_own_runs_viewers_and_admins_all(client, auth_header, runs):
    alice = listed(client, auth_header("tester", "alice"))
    assert run_ids(alice) == [runs["cart-1"], runs["login-2"], runs["login-1"]] and alice["total"] == 3
    assert runs["search-1"] not in run_ids(alice)  # bob's
    assert run_ids(listed(client, auth_header("tester", "bob"))) == [runs["search-1"]]
    assert run_ids(listed(client, auth_header("tester", "carol"))) == []
    assert listed(client, auth_header("admin"))["total"] == 4
    assert client.get(f"{API}/runs").status_code == 401


def test_items_are_the_runs_a_scripts_history_lists(client, auth_header, runs):
    alice = auth_header("tester", "alice")
    history = client.get(f"{API}/scripts/{runs['login']}/runs", headers=alice).json["items"]
    assert listed(client, alice, f"?script_id={runs['login']}")["items"] == history
    item = history[0]
    assert item["script_name"] == "login" and item["project_run_id"] is None and item["steps"] == []
    assert item["progress"] == {"current": 0, "total": 1} and item["junit_url"].endswith("/junit.xml")


def test_filters_by_state_script_and_project_run(client, auth_header, runs):
    alice, viewer = auth_header("tester", "alice"), auth_header("viewer")
    assert run_ids(listed(client, viewer, "?state=stopped")) == [runs["login-1"]]
    assert run_ids(listed(client, alice, "?state=queued")) == [runs["cart-1"], runs["login-2"]]
    assert listed(client, viewer, "?state=passed") == {"items": [], "total": 0, "limit": 50, "offset": 0}
    assert run_ids(listed(client, viewer, f"?script_id={runs['login']}")) == [runs["login-2"], runs["login-1"]]
    both = f"?script_id={runs['login']}&state=queued"
    assert run_ids(listed(client, viewer, both)) == [runs["login-2"]]
    assert run_ids(listed(client, alice, f"?script_id={runs['search']}")) == []  # bob's script: nothing leaks
    assert run_ids(listed(client, viewer, "?state=&script_id=")) == run_ids(listed(client, viewer))  # empty: no filter

    project = client.post(f"{API}/projects", json=side_project(), headers=alice).json
    project_run = client.post(f"{API}/projects/{project['project']['id']}/run", headers=alice).json
    children = [test["run_id"] for suite in project_run["suites"] for test in suite["tests"]]
    of_project_run = listed(client, viewer, f"?project_run_id={project_run['id']}")
    assert sorted(run_ids(of_project_run)) == sorted(children) and of_project_run["total"] == 2
    assert {item["project_run_id"] for item in of_project_run["items"]} == {project_run["id"]}
    assert run_ids(listed(client, viewer))[:2] == run_ids(of_project_run)  # children are runs like any other
    assert listed(client, auth_header("tester", "bob"), f"?project_run_id={project_run['id']}")["total"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?state=done", "state"),
        ("?state=PASSED", "state"),
        ("?script_id=a%00b", "script_id"),
        ("?script_id=a%27b", "script_id"),
        ("?project_run_id=" + "x" * 65, "project_run_id"),
        ("?limit=0", "limit"),
        ("?offset=-1", "offset"),
    ],
)
def test_a_bad_query_parameter_is_a_422_naming_it(client, auth_header, query, field):
    resp = client.get(f"{API}/runs{query}", headers=auth_header("viewer"))
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["code"] == "validation_error"
    assert [detail["field"] for detail in resp.json["error"]["details"]] == [field]
    assert resp.json["error"]["message"].startswith(f"{field}: ")


def test_the_openapi_document_lists_the_filters(client):
    operation = client.get(f"{API}/openapi.json").json["paths"][f"{API}/runs"]["get"]
    params = {param["name"]: param["schema"] for param in operation["parameters"]}
    assert set(params) == {"limit", "offset", "state", "script_id", "project_run_id"}
    assert params["state"]["enum"] == ["queued", "running", "passed", "failed", "error", "stopped"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RunList"
    }
    assert "422" in operation["responses"]


def test_the_lists_have_their_indexes_and_the_migration_takes_them_back(settings):
    from shared.migrations import downgrade, upgrade

    url = settings.sqlalchemy_url
    upgrade("web_test_service", url)
    engine = sa.create_engine(url)

    def indexes(table):
        return {index["name"]: index["column_names"] for index in sa.inspect(engine).get_indexes(table)}

    assert indexes("web_runs")["ix_web_runs_owner_created_at"] == ["owner", "created_at", "id"]
    assert indexes("project_runs")["ix_project_runs_owner_created_at"] == ["owner", "created_at", "id"]
    assert indexes("project_runs")["ix_project_runs_unfinished"] == ["created_at"]
    assert indexes("projects")["ix_projects_side_id"] == ["side_id"]
    engine.dispose()
    downgrade("web_test_service", url, "0007")
    assert "ix_web_runs_owner_created_at" not in indexes("web_runs")
    assert not {"ix_project_runs_owner_created_at", "ix_project_runs_unfinished"} & set(indexes("project_runs"))
    assert "ix_projects_side_id" not in indexes("projects")
    engine.dispose()
