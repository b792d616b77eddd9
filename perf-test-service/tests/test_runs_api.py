"""GET /runs through the API, no worker: every load run you may see, newest first, paginated and filtered."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.timeout(60)
API = "/api/v1/perf-test"
PARAMS = {"user_count": 2, "run_time": "30s"}


def scenario(name):
    return {"name": name, "host": "http://127.0.0.1:8999", "requests": [{"path": "/"}]}


@pytest.fixture()
def runs(client, auth_header):
    """Runs made in this order: alice's home (stopped), home again, cart; bob's search. Their ids by name."""
    alice, bob = auth_header("tester", "alice"), auth_header("tester", "bob")
    ids = {}
    for owner, name in ((alice, "home"), (alice, "cart"), (bob, "search")):
        created = client.post(f"{API}/scenarios", json=scenario(name), headers=owner)
        assert created.status_code == 201, created.json
        ids[name] = created.json["id"]

    def start(owner, name):
        started = client.post(f"{API}/scenarios/{ids[name]}/run", json=PARAMS, headers=owner)
        assert started.status_code == 202, started.json
        return started.json["run_id"]

    ids["home-1"] = start(alice, "home")
    assert client.post(f"{API}/scenarios/{ids['home']}/stop", headers=alice).json["state"] == "stopped"
    ids["home-2"], ids["cart-1"], ids["search-1"] = start(alice, "home"), start(alice, "cart"), start(bob, "search")
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
    assert run_ids(everything) == [runs["search-1"], runs["cart-1"], runs["home-2"], runs["home-1"]]
    assert (everything["total"], everything["limit"], everything["offset"]) == (4, 50, 0)
    window = listed(client, viewer, "?limit=2&offset=1")
    assert run_ids(window) == [runs["cart-1"], runs["home-2"]]
    assert (window["total"], window["limit"], window["offset"]) == (4, 2, 1)
    assert listed(client, viewer, "?offset=4")["items"] == []


def test_a_tester_sees_its_own_runs_viewers_and_admins_all(client, auth_header, runs):
    alice = listed(client, auth_header("tester", "alice"))
    assert run_ids(alice) == [runs["cart-1"], runs["home-2"], runs["home-1"]] and alice["total"] == 3
    assert runs["search-1"] not in run_ids(alice)  # bob's
    assert run_ids(listed(client, auth_header("tester", "bob"))) == [runs["search-1"]]
    assert run_ids(listed(client, auth_header("tester", "carol"))) == []
    assert listed(client, auth_header("admin"))["total"] == 4
    assert client.get(f"{API}/runs").status_code == 401


def test_items_are_the_runs_a_scenarios_history_lists(client, auth_header, runs):
    alice = auth_header("tester", "alice")
    history = client.get(f"{API}/scenarios/{runs['home']}/runs", headers=alice).json["items"]
    assert listed(client, alice, f"?scenario_id={runs['home']}")["items"] == history
    item = history[0]
    assert item["scenario_name"] == "home" and item["params"]["run_time"] == 30 and item["history"] == []
    assert item["report_url"] is None and "report_html" not in item  # a list never carries the report


def test_filters_by_state_and_scenario(client, auth_header, runs):
    alice, viewer = auth_header("tester", "alice"), auth_header("viewer")
    assert run_ids(listed(client, viewer, "?state=stopped")) == [runs["home-1"]]
    assert run_ids(listed(client, alice, "?state=queued")) == [runs["cart-1"], runs["home-2"]]
    assert run_ids(listed(client, viewer, "?state=queued")) == [runs["search-1"], runs["cart-1"], runs["home-2"]]
    assert listed(client, viewer, "?state=failed") == {"items": [], "total": 0, "limit": 50, "offset": 0}
    assert run_ids(listed(client, viewer, f"?scenario_id={runs['home']}")) == [runs["home-2"], runs["home-1"]]
    both = f"?scenario_id={runs['home']}&state=stopped"
    assert run_ids(listed(client, viewer, both)) == [runs["home-1"]]
    assert run_ids(listed(client, alice, f"?scenario_id={runs['search']}")) == []  # bob's scenario: nothing leaks
    assert run_ids(listed(client, viewer, "?state=&scenario_id=")) == run_ids(listed(client, viewer))  # no filter


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?state=done", "state"),
        ("?state=queued%00", "state"),
        ("?scenario_id=a%00b", "scenario_id"),
        ("?scenario_id=" + "x" * 65, "scenario_id"),
        ("?limit=ten", "limit"),
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
    assert set(params) == {"limit", "offset", "state", "scenario_id"}
    assert params["scenario_id"] == {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PerfRunList"
    }


def test_the_list_index_exists_and_the_migration_takes_it_back(settings):
    from shared.migrations import downgrade, upgrade

    url = settings.sqlalchemy_url
    upgrade("perf_test_service", url)
    engine = sa.create_engine(url)

    def indexes():
        return {index["name"]: index["column_names"] for index in sa.inspect(engine).get_indexes("perf_runs")}

    assert indexes()["ix_perf_runs_owner_created_at"] == ["owner", "created_at", "id"]
    engine.dispose()
    downgrade("perf_test_service", url, "0003")
    assert "ix_perf_runs_owner_created_at" not in indexes()
    engine.dispose()
