"""Projects API: import a .side as a project, list and read it by owner (or find it by its IDE id), re-import keeping
scripts and runs, delete."""

from __future__ import annotations

import io
import json

import pytest

pytestmark = pytest.mark.timeout(60)
API = "/api/v1/web-test"


def side_test(test_id, name, commands):
    return {"id": test_id, "name": name, "commands": [
        {"id": f"{test_id}-{i}", "comment": "", "command": c, "target": t, "targets": [], "value": v}
        for i, (c, t, v) in enumerate(commands)
    ]}  # fmt: skip


LOGIN = side_test("t1", "login", [("open", "/login.html", ""), ("type", "id=username", "tom")])
CHECKOUT = side_test("t2", "checkout", [("run", "login", ""), ("assertTitle", "Cart", "")])
LEGACY = side_test("t3", "legacy", [("open", "/old.html", "")])


def side_project(tests, suites=None):
    return {
        "id": "ide-project-1", "version": "2.0", "name": "shop", "url": "http://127.0.0.1:1", "urls": [],
        "plugins": [], "tests": tests, "suites": suites or [],
    }  # fmt: skip


def shop():
    suites = [
        {"id": "s1", "name": "smoke", "persistSession": True, "parallel": False, "timeout": 60, "tests": ["t2", "t1"]},
        {"id": "s2", "name": "nightly", "persistSession": False, "parallel": True, "timeout": 300, "tests": ["t3"]},
    ]  # fmt: skip
    return side_project([LOGIN, CHECKOUT, LEGACY], suites)


def create(client, headers, project=None):
    resp = client.post(f"{API}/projects", json=project or shop(), headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json


def test_create_from_json_and_from_a_file(client, auth_header):
    alice = auth_header("tester", "alice")
    created = create(client, alice)
    assert set(created) == {"project", "suites", "scripts", "warnings"}
    project = created["project"]
    assert project["owner"] == "alice" and project["name"] == "shop" and project["base_url"] == "http://127.0.0.1:1"
    assert project["side_id"] == "ide-project-1" and project["version"] == "2.0"
    scripts = created["scripts"]
    assert [(s["name"], s["side_id"]) for s in scripts] == [("checkout", "t2"), ("login", "t1"), ("legacy", "t3")]
    assert {s["project_id"] for s in scripts} == {project["id"]}
    checkout, login, legacy = (s["id"] for s in scripts)
    assert created["suites"] == [
        {"name": "smoke", "parallel": False, "persist_session": True, "timeout_ms": 60_000,
         "script_ids": [checkout, login]},
        {"name": "nightly", "parallel": True, "persist_session": False, "timeout_ms": 300_000, "script_ids": [legacy]},
    ]  # fmt: skip

    upload = {"file": (io.BytesIO(json.dumps(shop()).encode()), "shop.side")}
    as_file = client.post(f"{API}/projects", data=upload, headers=alice, content_type="multipart/form-data")
    assert as_file.status_code == 201, as_file.json
    assert as_file.json["project"]["id"] != project["id"]  # importing the same .side twice: two projects
    assert [s["name"] for s in as_file.json["scripts"]] == ["checkout", "login", "legacy"]
    assert client.post(f"{API}/projects", data="x", headers=alice, content_type="text/plain").status_code == 400


def test_an_import_keeps_warnings_and_unrunnable_tests(client, auth_header, settings):
    suites = [{"id": "s1", "name": "s", "timeout": 30000, "tests": ["t1", "t9"]}]
    odd = side_test("t9", "odd", [("customClick", "id=buy", "")])
    created = create(client, auth_header("tester"), side_project([LOGIN, odd], suites))
    assert [w["field"] for w in created["warnings"]] == ["suites.0.timeout"]
    assert created["suites"][0]["timeout_ms"] == settings.max_run_seconds * 1000
    assert [s["runnable"] for s in created["scripts"]] == [True, False]


def test_list_and_read_by_owner_viewer_and_admin(client, auth_header):
    alice, bob = auth_header("tester", "alice"), auth_header("tester", "bob")
    viewer, admin = auth_header("viewer"), auth_header("admin")
    project_id = create(client, alice)["project"]["id"]
    create(client, bob)
    mine = client.get(f"{API}/projects?limit=10", headers=alice).json
    assert mine["total"] == 1 and mine["items"][0]["id"] == project_id and "limit" in mine
    assert client.get(f"{API}/projects", headers=admin).json["total"] == 2
    assert client.get(f"{API}/projects", headers=viewer).json["total"] == 2
    one = client.get(f"{API}/projects/{project_id}", headers=viewer)
    assert one.status_code == 200 and [s["name"] for s in one.json["scripts"]] == ["checkout", "login", "legacy"]
    assert [suite["name"] for suite in one.json["suites"]] == ["smoke", "nightly"]
    for method in ("get", "put", "delete"):
        resp = getattr(client, method)(f"{API}/projects/{project_id}", headers=bob, json=shop())
        assert resp.status_code == 404, (method, resp.json)
    assert client.post(f"{API}/projects", json=shop(), headers=viewer).status_code == 403
    assert client.put(f"{API}/projects/{project_id}", json=shop(), headers=viewer).status_code == 403
    assert client.delete(f"{API}/projects/{project_id}", headers=viewer).status_code == 403
    assert client.put(f"{API}/projects/{project_id}", json=shop(), headers=admin).status_code == 200
    assert client.get(f"{API}/projects/nosuchproject", headers=admin).status_code == 404


def test_the_list_finds_a_project_by_its_ide_id_to_reimport_it(client, auth_header):
    alice, bob, viewer = auth_header("tester", "alice"), auth_header("tester", "bob"), auth_header("viewer")
    first = create(client, alice)["project"]["id"]
    other = create(client, alice, {**shop(), "id": "ide-project-2"})["project"]["id"]
    second = create(client, alice)["project"]["id"]  # the same .side imported twice: two projects, oldest first
    bobs = create(client, bob)["project"]["id"]

    def found(headers, side_id):
        resp = client.get(f"{API}/projects?side_id={side_id}", headers=headers)
        assert resp.status_code == 200, resp.json
        return [project["id"] for project in resp.json["items"]], resp.json["total"]

    assert found(alice, "ide-project-1") == ([first, second], 2)
    assert found(alice, "ide-project-2") == ([other], 1)
    assert found(bob, "ide-project-1") == ([bobs], 1)  # alice's are not bob's to see
    assert found(viewer, "ide-project-1") == ([first, second, bobs], 3)
    assert found(alice, "no-such-project") == ([], 0)
    assert found(alice, "") == ([first, other, second], 3)  # empty: no filter
    page = client.get(f"{API}/projects?side_id=ide-project-1&limit=1&offset=1", headers=alice).json
    assert [p["id"] for p in page["items"]] == [second] and (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    (match,) = client.get(f"{API}/projects?side_id=ide-project-2", headers=alice).json["items"]
    reimported = client.put(f"{API}/projects/{match['id']}", json={**shop(), "id": "ide-project-2"}, headers=alice)
    assert reimported.status_code == 200 and reimported.json["project"]["id"] == other


@pytest.mark.parametrize(
    ("side_id", "message"),
    [("a%00b", "must not contain NUL (\\u0000) characters"), ("x" * 201, "at most 200 characters")],
)
def test_a_bad_side_id_is_a_422_naming_it(client, auth_header, side_id, message):
    resp = client.get(f"{API}/projects?side_id={side_id}", headers=auth_header("tester"))
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["details"] == [{"field": "side_id", "message": message}]
    assert client.get(f"{API}/projects?side_id={'x' * 200}", headers=auth_header("tester")).json["total"] == 0


def test_a_reimport_keeps_each_test_its_script_and_runs(client, auth_header):
    alice = auth_header("tester", "alice")
    created = create(client, alice)
    ids = {s["side_id"]: s["id"] for s in created["scripts"]}
    started = client.post(f"{API}/scripts/{ids['t1']}/run", headers=alice)
    assert started.status_code == 202, started.json
    run_id = started.json["run_id"]

    renamed = side_test("t1", "sign in", [("open", "/signin.html", "")])
    checkout = side_test("t2", "checkout", [("run", "sign in", ""), ("assertTitle", "Cart", "")])
    added = side_test("t4", "search", [("open", "/search.html", "")])
    suites = [{"id": "s1", "name": "all", "parallel": True, "timeout": 120, "tests": ["t4", "t1", "t2"]}]
    new_side = side_project([renamed, checkout, added], suites)
    updated = client.put(f"{API}/projects/{created['project']['id']}", json=new_side, headers=alice)
    assert updated.status_code == 200, updated.json
    scripts = {s["side_id"]: s for s in updated.json["scripts"]}
    assert set(scripts) == {"t1", "t2", "t4"}
    assert scripts["t1"]["id"] == ids["t1"] and scripts["t2"]["id"] == ids["t2"]
    assert scripts["t1"]["name"] == "sign in" and scripts["t1"]["commands"][0]["target"] == "/signin.html"
    assert scripts["t1"]["timeout_ms"] == 120_000 and scripts["t1"]["suites"] == ["all"]
    assert scripts["t2"]["commands"][0]["target"] == "sign in"
    assert scripts["t4"]["id"] not in ids.values()
    assert updated.json["suites"] == [{"name": "all", "parallel": True, "persist_session": False,
                                       "timeout_ms": 120_000, "script_ids": [scripts["t4"]["id"], ids["t1"],
                                                                             ids["t2"]]}]  # fmt: skip
    history = client.get(f"{API}/scripts/{ids['t1']}/runs", headers=alice).json
    assert [run["run_id"] for run in history["items"]] == [run_id]
    assert client.get(f"{API}/runs/{run_id}", headers=alice).json["script_id"] == ids["t1"]
    assert client.get(f"{API}/scripts/{ids['t3']}", headers=alice).status_code == 404  # no longer in the project
    read = client.get(f"{API}/projects/{created['project']['id']}", headers=alice).json
    assert [s["id"] for s in read["scripts"]] == [scripts["t4"]["id"], ids["t1"], ids["t2"]]


def test_a_reimport_refuses_to_delete_a_test_while_it_runs(client, auth_header):
    alice = auth_header("tester", "alice")
    created = create(client, alice)
    project_url = f"{API}/projects/{created['project']['id']}"
    legacy = next(s["id"] for s in created["scripts"] if s["side_id"] == "t3")
    run_id = client.post(f"{API}/scripts/{legacy}/run", headers=alice).json["run_id"]
    without_legacy = side_project([LOGIN, CHECKOUT])
    refused = client.put(project_url, json=without_legacy, headers=alice)
    assert refused.status_code == 409, refused.json
    assert "'legacy'" in refused.json["error"]["message"]
    unchanged = client.get(project_url, headers=alice).json
    assert unchanged["scripts"] == created["scripts"] and unchanged["suites"] == created["suites"]

    assert client.post(f"{API}/scripts/{legacy}/stop", headers=alice).status_code == 202
    assert client.put(project_url, json=without_legacy, headers=alice).status_code == 200
    assert client.get(f"{API}/runs/{run_id}", headers=alice).json["script_id"] is None  # kept in history


def test_a_reimport_with_a_broken_test_is_422_and_changes_nothing(client, auth_header):
    alice = auth_header("tester", "alice")
    created = create(client, alice)
    project_url = f"{API}/projects/{created['project']['id']}"
    before = client.get(project_url, headers=alice).json
    broken = side_test("t2", "checkout", [("click", "class=btn", "")])
    resp = client.put(project_url, json=side_project([LOGIN, broken, side_test("t5", "new", [("open", "/", "")])]),
                      headers=alice)  # fmt: skip
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["details"][0]["field"] == "tests.1.commands.0.target"
    assert client.put(project_url, json={"version": "9.0"}, headers=alice).status_code == 422
    assert client.get(project_url, headers=alice).json == before
    assert client.get(f"{API}/scripts", headers=alice).json["total"] == 3


def test_delete_a_project_and_its_scripts(client, auth_header):
    alice = auth_header("tester", "alice")
    created = create(client, alice)
    project_url = f"{API}/projects/{created['project']['id']}"
    login = next(s["id"] for s in created["scripts"] if s["side_id"] == "t1")
    run_id = client.post(f"{API}/scripts/{login}/run", headers=alice).json["run_id"]
    assert client.delete(project_url, headers=alice).status_code == 409
    assert client.post(f"{API}/scripts/{login}/stop", headers=alice).status_code == 202
    assert client.delete(project_url, headers=alice).status_code == 204
    assert client.get(project_url, headers=alice).status_code == 404
    assert client.get(f"{API}/scripts", headers=alice).json["total"] == 0
    assert client.get(f"{API}/runs/{run_id}", headers=alice).status_code == 200


def test_scripts_import_creates_a_project(client, auth_header):
    alice = auth_header("tester", "alice")
    resp = client.post(f"{API}/scripts/import", json=shop(), headers=alice)
    assert resp.status_code == 201, resp.json
    assert {"items", "total", "project_id", "project", "warnings"} <= set(resp.json)
    assert resp.json["project"]["suites"][0]["test_ids"] == ["t2", "t1"]  # the answer it always had
    project_id = resp.json["project_id"]
    assert {s["project_id"] for s in resp.json["items"]} == {project_id}
    read = client.get(f"{API}/projects/{project_id}", headers=alice).json
    assert [s["id"] for s in read["scripts"]] == [s["id"] for s in resp.json["items"]]


def test_a_run_command_finds_the_test_in_its_own_project(app, client, auth_header):
    from web_test_service.service import resolve_in_project

    alice = auth_header("tester", "alice")
    first = create(client, alice)["project"]["id"]
    other_login = side_test("t1", "login", [("open", "/other.html", "")])
    second = create(client, alice, side_project([other_login, CHECKOUT]))["project"]["id"]
    sessions = app.extensions["db"].session_factory
    for project_id, target in ((first, "/login.html"), (second, "/other.html")):
        resolve = resolve_in_project(sessions=sessions, owner="alice", project_id=project_id)
        assert resolve("login")[0]["target"] == target
        assert resolve("nothing") is None


def test_the_openapi_document_describes_the_project_routes(client):
    doc = client.get(f"{API}/openapi.json").json
    assert set(doc["paths"][f"{API}/projects"]) == {"get", "post"}
    assert set(doc["paths"][f"{API}/projects/{{project_id}}"]) == {"get", "put", "delete"}
    assert {"ProjectImport", "ProjectDetail", "ProjectList", "SuiteRead"} <= set(doc["components"]["schemas"])


def test_the_migration_makes_a_project_of_each_earlier_import_and_keeps_the_runs(settings):
    """Scripts imported before projects shared a project_id string; runs must keep their script both ways."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from shared.auth import Role, User
    from shared.db import make_engine, utcnow
    from shared.migrations import downgrade, upgrade
    from web_test_service.projects import ImportLimits, reimport_project

    url = settings.sqlalchemy_url
    upgrade("web_test_service", url, "0004")
    engine = make_engine(url)  # foreign keys on, as the services run SQLite
    meta = sa.MetaData()
    meta.reflect(engine, only=["scripts", "web_runs"])
    scripts, runs = meta.tables["scripts"], meta.tables["web_runs"]
    now = utcnow()
    common = {"owner": "alice", "base_url": "http://127.0.0.1:1", "commands": [{"command": "open", "target": "/"}],
              "timeout_ms": 60_000, "created_at": now, "updated_at": now, "project_name": "shop"}  # fmt: skip
    rows = [
        {**common, "id": "s-login", "name": "login", "project_id": "p-old", "suites": ["smoke"], "position": 1},
        {**common, "id": "s-cart", "name": "cart", "project_id": "p-old", "suites": ["smoke", "full"], "position": 0},
        {**common, "id": "s-alone", "name": "alone", "project_id": None, "project_name": None, "suites": [],
         "position": 0},
    ]  # fmt: skip
    run = {"id": "r1", "script_id": "s-login", "script_name": "login", "owner": "alice", "state": "passed",
           "priority": 5, "attempts": 1, "created_at": now, "base_url": "", "variables": {}, "progress_current": 0,
           "progress_total": 1}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(scripts.insert(), rows)
        conn.execute(runs.insert(), [run])
    engine.dispose()

    upgrade("web_test_service", url)
    with engine.connect() as conn:
        projects = conn.execute(sa.text("SELECT id, owner, name, suites FROM projects")).all()
        assert [(p.id, p.owner, p.name) for p in projects] == [("p-old", "alice", "shop")]
        suites = projects[0].suites if isinstance(projects[0].suites, list) else json.loads(projects[0].suites)
        assert [(s["name"], s["script_ids"]) for s in suites] == [
            ("smoke", ["s-cart", "s-login"]),
            ("full", ["s-cart"]),
        ]
        assert conn.execute(sa.text("SELECT script_id FROM web_runs")).scalar_one() == "s-login"
    # A re-import matches a script saved without an IDE test id by its name.
    login, cart = side_test("t1", "login", [("open", "/new.html", "")]), side_test("t2", "cart", [("open", "/c", "")])
    side = side_project([login, cart])
    with Session(engine) as session:
        alice = User("alice", Role.tester)
        updated = reimport_project(
            session=session, user=alice, project_id="p-old", raw=side, limits=ImportLimits(60_000)
        )
        assert [(s.id, s.side_id) for s in updated["scripts"]] == [("s-login", "t1"), ("s-cart", "t2")]
    engine.dispose()

    downgrade("web_test_service", url, "0004")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT script_id FROM web_runs")).scalar_one() == "s-login"
        assert conn.execute(sa.text("SELECT count(*) FROM scripts WHERE project_id = 'p-old'")).scalar_one() == 2
    engine.dispose()
