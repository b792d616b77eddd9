"""Scripts API: CRUD, save-time validation, .side import, ownership, envelopes."""

from __future__ import annotations

import io
import json

import pytest

pytestmark = pytest.mark.timeout(60)
API = "/api/v1/web-test"

LOGIN = {
    "name": "login",
    "base_url": "http://127.0.0.1:1",
    "commands": [
        {"command": "open", "target": "/login.html", "value": ""},
        {"command": "type", "target": "id=username", "value": "tom"},
        {"command": "assertText", "target": "id=title", "value": "Welcome"},
    ],
}


def side_project(tests, suites=None):
    return {
        "id": "p1", "version": "2.0", "name": "shop", "url": "http://127.0.0.1:1", "urls": [], "plugins": [],
        "tests": tests, "suites": suites or [],
    }  # fmt: skip


def side_test(test_id, name, commands):
    return {"id": test_id, "name": name, "commands": [
        {"id": f"{test_id}-{i}", "comment": "", "command": c, "target": t, "targets": [], "value": v}
        for i, (c, t, v) in enumerate(commands)
    ]}  # fmt: skip


def test_crud_round_trip(client, auth_header):
    alice = auth_header("tester", "alice")
    created = client.post(f"{API}/scripts", json=LOGIN, headers=alice)
    assert created.status_code == 201, created.json
    script = created.json
    assert script["owner"] == "alice" and script["commands"][1]["value"] == "tom"
    assert client.get(f"{API}/scripts/{script['id']}", headers=alice).json["name"] == "login"
    listing = client.get(f"{API}/scripts?limit=10", headers=alice).json
    assert listing["total"] == 1 and listing["items"][0]["id"] == script["id"]
    replaced = client.put(f"{API}/scripts/{script['id']}", json={**LOGIN, "name": "login v2"}, headers=alice)
    assert replaced.status_code == 200 and replaced.json["name"] == "login v2"
    assert client.delete(f"{API}/scripts/{script['id']}", headers=alice).status_code == 204
    assert client.get(f"{API}/scripts/{script['id']}", headers=alice).status_code == 404


@pytest.mark.parametrize(
    "commands, field",
    [
        ([{"command": "frobnicate", "target": "x"}], "commands.0.command"),
        ([{"command": "open", "target": "/"}, {"command": "click", "target": "class=btn"}], "commands.1.target"),
        ([{"command": "click", "target": ""}], "commands.0.target"),
        ([{"command": "if", "target": "true"}], "commands.0"),
    ],
)
def test_bad_commands_are_422_naming_index_and_field(client, auth_header, commands, field):
    resp = client.post(f"{API}/scripts", json={**LOGIN, "commands": commands}, headers=auth_header("tester"))
    assert resp.status_code == 422, resp.json
    error = resp.json["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"].startswith(field)
    assert error["message"].startswith(field)


@pytest.mark.parametrize(
    "body, field",
    [({**LOGIN, "name": ""}, "name"), ({**LOGIN, "base_url": "ftp://x"}, "base_url"),
     ({**LOGIN, "commands": []}, "commands"), ({**LOGIN, "timeout_ms": 10**9}, "timeout_ms"),
     ({**LOGIN, "extra": 1}, "extra")],
)  # fmt: skip
def test_bad_fields_are_422(client, auth_header, body, field):
    resp = client.post(f"{API}/scripts", json=body, headers=auth_header("tester"))
    assert resp.status_code == 422
    assert resp.json["error"]["details"][0]["field"] == field


def test_malformed_and_non_object_bodies_are_400(client, auth_header):
    headers = {**auth_header("tester"), "Content-Type": "application/json"}
    assert client.post(f"{API}/scripts", data="{", headers=headers).status_code == 400
    assert client.post(f"{API}/scripts", data="[1]", headers=headers).status_code == 400
    deep = "[" * 100_000 + "]" * 100_000
    assert client.post(f"{API}/scripts/import", data=deep, headers=headers).status_code == 400


def test_ownership(client, auth_header):
    script = client.post(f"{API}/scripts", json=LOGIN, headers=auth_header("tester", "alice")).json
    bob, viewer, admin = auth_header("tester", "bob"), auth_header("viewer"), auth_header("admin")
    assert client.get(f"{API}/scripts/{script['id']}", headers=bob).status_code == 404
    assert client.get(f"{API}/scripts", headers=bob).json["total"] == 0
    assert client.post(f"{API}/scripts/{script['id']}/stop", headers=bob).status_code == 404
    assert client.delete(f"{API}/scripts/{script['id']}", headers=bob).status_code == 404
    assert client.get(f"{API}/scripts/{script['id']}", headers=viewer).status_code == 200
    assert client.post(f"{API}/scripts", json=LOGIN, headers=viewer).status_code == 403
    assert client.post(f"{API}/scripts/{script['id']}/run", headers=viewer).status_code == 403
    assert client.get(f"{API}/scripts", headers=admin).json["total"] == 1


def test_import_side_project_keeps_suite_order_and_names(client, auth_header):
    project = side_project(
        [side_test("t1", "login", [("open", "/login.html", "")]),
         side_test("t2", "checkout", [("run", "login", ""), ("assertTitle", "Login", "")])],
        [{"id": "s1", "name": "smoke", "persistSession": False, "parallel": False, "timeout": 300,
          "tests": ["t2", "t1"]}],
    )  # fmt: skip
    resp = client.post(f"{API}/scripts/import", json=project, headers=auth_header("tester", "alice"))
    assert resp.status_code == 201, resp.json
    items = resp.json["items"]
    assert resp.json["total"] == 2
    assert [s["name"] for s in items] == ["checkout", "login"]
    assert items[0]["suites"] == ["smoke"] and items[0]["project_name"] == "shop"
    assert items[0]["project_id"] == items[1]["project_id"]

    as_file = client.post(
        f"{API}/scripts/import",
        data={"file": (io.BytesIO(json.dumps(project).encode()), "shop.side")},
        headers=auth_header("tester", "alice"),
        content_type="multipart/form-data",
    )
    assert as_file.status_code == 201 and as_file.json["total"] == 2


def test_import_refuses_bad_projects(client, auth_header):
    tester = auth_header("tester")
    bad_command = side_project([side_test("t1", "x", [("open", "/", ""), ("click", "class=btn", "")])])
    resp = client.post(f"{API}/scripts/import", json=bad_command, headers=tester)
    assert resp.status_code == 422 and "commands.1.target" in resp.json["error"]["message"]
    missing_run = side_project([side_test("t1", "x", [("run", "nope", "")])])
    assert client.post(f"{API}/scripts/import", json=missing_run, headers=tester).status_code == 422
    assert client.post(f"{API}/scripts/import", json={"version": "9.0"}, headers=tester).status_code == 422
    assert client.get(f"{API}/scripts", headers=tester).json["total"] == 0  # nothing half written


def test_run_without_worker_is_queued_and_409_while_active(client, auth_header):
    alice = auth_header("tester", "alice")
    script = client.post(f"{API}/scripts", json=LOGIN, headers=alice).json
    first = client.post(f"{API}/scripts/{script['id']}/run", json={"priority": 9}, headers=alice)
    assert first.status_code == 202
    assert first.json["state"] == "queued" and first.json["task_id"]
    assert client.post(f"{API}/scripts/{script['id']}/run", headers=alice).status_code == 409
    status = client.get(f"{API}/scripts/{script['id']}/status", headers=alice).json
    assert status["run_id"] == first.json["run_id"] and status["progress"] == {"current": 0, "total": 3}
    stopped = client.post(f"{API}/scripts/{script['id']}/stop", headers=alice)
    assert stopped.status_code == 202 and stopped.json["state"] == "stopped"
    assert client.post(f"{API}/scripts/{script['id']}/stop", headers=alice).status_code == 409
    bad = client.post(f"{API}/scripts/{script['id']}/run", json={"priority": 10}, headers=alice)
    assert bad.status_code == 422 and bad.json["error"]["details"][0]["field"] == "priority"


def _with(project: dict, change) -> dict:
    project = json.loads(json.dumps(project))
    change(project)
    return project


# The three 500s of issue 11, and their siblings: each field of a .side file is checked by its path.
HOSTILE_SIDE = [
    (lambda p: p["tests"][0]["commands"][0].update(targets=5), "tests.0.commands.0.targets"),
    (lambda p: p["suites"][0].update(tests=[[1]]), "suites.0.tests.0"),
    (lambda p: p["suites"][0].update(timeout="inf"), "suites.0.timeout"),
    (lambda p: p["suites"][0].update(timeout="nan"), "suites.0.timeout"),
    (lambda p: p["suites"][0].update(timeout=-5), "suites.0.timeout"),
    (lambda p: p["suites"][0].update(tests=[{"id": "t1"}]), "suites.0.tests.0"),
    (lambda p: p["tests"][1]["commands"][0].update(value=["x"]), "tests.1.commands.0.value"),
    (lambda p: p["tests"][0].update(name="a\x00b"), "tests.0.name"),  # PostgreSQL: was a 503
    (lambda p: p["tests"][0]["commands"][0].update(windowTimeout=2**64), "tests.0.commands.0.windowTimeout"),
]


@pytest.mark.parametrize(
    ("change", "field"),
    HOSTILE_SIDE,
    ids=["targets-5", "suite-tests-nested", "timeout-inf", "timeout-nan", "timeout-negative", "suite-tests-object",
         "value-list", "nul-in-name", "int-beyond-64-bits"],
)  # fmt: skip
def test_import_type_checks_every_field_as_json_and_as_a_file(client, auth_header, change, field):
    tester = auth_header("tester")
    tests = [side_test("t1", "login", [("open", "/login.html", "")]), side_test("t2", "checkout", [("echo", "hi", "")])]
    project = _with(side_project(tests, [{"id": "s1", "name": "smoke", "timeout": 60, "tests": ["t2", "t1"]}]), change)
    as_json = client.post(f"{API}/scripts/import", json=project, headers=tester)
    as_file = client.post(
        f"{API}/scripts/import",
        data={"file": (io.BytesIO(json.dumps(project).encode()), "p.side")},
        headers=tester,
        content_type="multipart/form-data",
    )
    for resp in (as_json, as_file):
        assert resp.status_code == 422, resp.get_data(as_text=True)
        error = resp.json["error"]
        assert error["code"] == "validation_error" and error["details"][0]["field"] == field, error
        assert field in error["message"]
    assert client.get(f"{API}/scripts", headers=tester).json["total"] == 0  # nothing half written


def test_import_errors_name_the_test_by_its_place_in_the_document(client, auth_header):
    """Scripts are imported in suite order; an error must still point at the test where the document has it."""
    tests = [
        side_test("t1", "login", [("open", "/", ""), ("click", "", "")]),
        side_test("t2", "home", [("open", "/", "")]),
    ]
    project = side_project(tests, [{"id": "s1", "name": "smoke", "tests": ["t2", "t1"]}])
    resp = client.post(f"{API}/scripts/import", json=project, headers=auth_header("tester"))
    assert resp.status_code == 422
    assert resp.json["error"]["details"][0]["field"] == "tests.0.commands.1.target"


@pytest.mark.parametrize(
    ("body", "field"),
    [({**LOGIN, "timeout_ms": "60000"}, "timeout_ms"), ({**LOGIN, "timeout_ms": 60000.5}, "timeout_ms"),
     ({**LOGIN, "commands": [{"command": "open", "target": "/", "skip": "yes"}]}, "commands.0.skip"),
     ({**LOGIN, "commands": [{"command": "open", "target": "/", "targets": [["a", "b", "c"]]}]},
      "commands.0.targets.0"),
     ({**LOGIN, "commands": [{"command": "open", "target": 5}]}, "commands.0.target"),
     ({**LOGIN, "name": True}, "name")],
    ids=["timeout-string", "timeout-fraction", "skip-string", "locator-triple", "target-number", "name-bool"],
)  # fmt: skip
def test_script_fields_are_type_checked(client, auth_header, body, field):
    tester = auth_header("tester")
    resp = client.post(f"{API}/scripts", json=body, headers=tester)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["details"][0]["field"] == field
    assert client.get(f"{API}/scripts", headers=tester).json["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [({"priority": True}, "priority"), ({"priority": 9.0}, "priority"), ({"base_url": 5}, "base_url")],
    ids=["priority-bool", "priority-float", "base-url-number"],
)
def test_run_bodies_are_type_checked(client, auth_header, body, field):
    alice = auth_header("tester", "alice")
    script = client.post(f"{API}/scripts", json=LOGIN, headers=alice).json
    resp = client.post(f"{API}/scripts/{script['id']}/run", json=body, headers=alice)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["details"][0]["field"] == field
    assert client.get(f"{API}/scripts/{script['id']}/runs", headers=alice).json["total"] == 0


@pytest.mark.parametrize(
    "target, naming",
    [("file:///etc/passwd", "a file: URL"), ("data:text/html,<b>x</b>", "a data: URL"),
     ("view-source:http://127.0.0.1/", "a view-source: URL"), ("chrome://version", "a chrome: URL"),
     ("javascript:alert(1)", "a javascript: URL"), ("about:version", "an about: URL"),
     ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
     ("http://[::ffff:169.254.169.254]/", "169.254.169.254"), ("http://127.0.0.2:8000/", "127.0.0.2")],
)  # fmt: skip
def test_an_open_target_the_policy_refuses_is_422_at_save_and_import(client, auth_header, target, naming):
    tester = auth_header("tester")
    commands = [{"command": "echo", "target": "x"}, {"command": "open", "target": target}]
    resp = client.post(f"{API}/scripts", json={**LOGIN, "commands": commands}, headers=tester)
    assert resp.status_code == 422, resp.json
    error = resp.json["error"]
    assert error["details"][0]["field"] == "commands.1.target"
    assert error["message"].startswith("commands.1.target: Blocked by WEB_ALLOWED_HOSTS") and naming in error["message"]
    project = side_project([side_test("t1", "fine", [("open", "/", "")]), side_test("t2", "x", [("open", target, "")])])
    imported = client.post(f"{API}/scripts/import", json=project, headers=tester)
    assert imported.status_code == 422, imported.json
    assert imported.json["error"]["details"][0]["field"] == "tests.1.commands.0.target"
    assert "WEB_ALLOWED_HOSTS" in imported.json["error"]["message"]
    assert client.get(f"{API}/scripts", headers=tester).json["total"] == 0


def test_the_platforms_own_endpoints_and_base_urls_are_refused_at_save(client, auth_header, settings):
    tester = auth_header("tester")
    redis = settings.redis_url.split("://", 1)[1].split("/", 1)[0]  # host:port of the platform's Redis
    body = {**LOGIN, "commands": [{"command": "open", "target": f"http://{redis}/"}]}
    resp = client.post(f"{API}/scripts", json=body, headers=tester)
    assert resp.status_code == 422 and "platform's own endpoints" in resp.json["error"]["message"]
    resp = client.post(f"{API}/scripts", json={**LOGIN, "base_url": "http://169.254.169.254"}, headers=tester)
    assert resp.status_code == 422 and resp.json["error"]["details"][0]["field"] == "base_url"


@pytest.mark.parametrize(
    "target", ["/login.html", "http://app.example.test/", "${start}", "http://${host}/x", "about:blank"]
)
def test_names_variables_and_relative_targets_are_judged_at_run_time(client, auth_header, target):
    """A name is resolved when the run starts (DNS may change): at save only literal addresses and schemes count."""
    body = {**LOGIN, "commands": [{"command": "open", "target": target}]}
    assert client.post(f"{API}/scripts", json=body, headers=auth_header("tester")).status_code == 201


def current_ide_project() -> dict:
    """A project as the current Selenium IDE saves it: version 2.0, every suite 30000 s, a plugin command."""
    tests = [
        side_test("3f1a", "login", [("open", "/login.html", ""), ("type", "id=username", "tom")]),
        side_test("9b2c", "checkout", [("run", "login", ""), ("customClick", "id=buy", ""), ("echo", "done", "")]),
    ]
    suites = [
        {"id": "a1", "name": "Default Suite", "persistSession": False, "parallel": False, "timeout": 30000,
         "tests": ["3f1a", "9b2c"]},
        {"id": "a2", "name": "nightly", "persistSession": True, "parallel": True, "timeout": 3000, "tests": ["9b2c"]},
    ]  # fmt: skip
    return side_project(tests, suites)


def test_import_a_project_as_the_current_ide_writes_it(client, auth_header, settings):
    alice = auth_header("tester", "alice")
    resp = client.post(f"{API}/scripts/import", json=current_ide_project(), headers=alice)
    assert resp.status_code == 201, resp.json
    limit_s = settings.max_run_seconds
    assert [w["field"] for w in resp.json["warnings"]] == ["suites.0.timeout", "suites.1.timeout"]
    assert resp.json["warnings"][0]["message"] == (
        f"30000 s is above the platform's limit: clamped to {limit_s} s (WEB_MAX_RUN_SECONDS)"
    )
    login, checkout = resp.json["items"]
    assert login["runnable"] is True and login["unrunnable"] is None and login["timeout_ms"] == limit_s * 1000
    assert checkout["runnable"] is False
    assert checkout["unrunnable"] == {
        "field": "commands.1.command", "index": 1, "command": "customClick", "message": "Unknown command customClick"
    }  # fmt: skip
    assert checkout["commands"][1]["command"] == "customClick"  # kept as the IDE wrote it
    assert client.get(f"{API}/scripts/{checkout['id']}", headers=alice).json["unrunnable"]["index"] == 1
    listed = {s["name"]: s["runnable"] for s in client.get(f"{API}/scripts", headers=alice).json["items"]}
    assert listed == {"login": True, "checkout": False}

    assert client.post(f"{API}/scripts/{login['id']}/run", headers=alice).status_code == 202
    refused = client.post(f"{API}/scripts/{checkout['id']}/run", headers=alice)
    assert refused.status_code == 422, refused.json
    error = refused.json["error"]
    assert error["message"] == "commands.1.command: Unknown command customClick"
    assert error["details"][0]["field"] == "commands.1.command" and error["details"][0]["command"] == "customClick"
    assert client.get(f"{API}/scripts/{checkout['id']}/runs", headers=alice).json["total"] == 0

    fixed = {"name": "checkout", "commands": [c for c in checkout["commands"] if c["command"] != "customClick"]}
    replaced = client.put(f"{API}/scripts/{checkout['id']}", json=fixed, headers=alice)
    assert replaced.status_code == 200 and replaced.json["runnable"] is True and replaced.json["unrunnable"] is None


def test_a_single_script_with_an_unknown_command_stays_a_422(client, auth_header):
    """Only an import keeps what the IDE wrote; a script written for TestFleet is checked in full."""
    body = {**LOGIN, "commands": [{"command": "customClick", "target": "id=buy"}]}
    resp = client.post(f"{API}/scripts", json=body, headers=auth_header("tester"))
    assert resp.status_code == 422 and resp.json["error"]["details"][0]["field"] == "commands.0.command"


def test_an_import_lists_every_problem_of_every_test_and_saves_nothing(client, auth_header):
    alice = auth_header("tester", "alice")
    assert client.post(f"{API}/scripts", json=LOGIN, headers=alice).status_code == 201
    project = side_project([
        side_test("t1", "fine", [("open", "/", ""), ("customClick", "id=x", "")]),
        side_test("t2", "bad locator", [("open", "/", ""), ("click", "class=btn", "")]),
        side_test("t3", "no argument", [("type", "", "tom")]),
        side_test("t4", "refused", [("open", "http://169.254.169.254/", ""), ("pause", "soon", "")]),
    ], [{"id": "s1", "name": "smoke", "timeout": 30000, "tests": ["t4", "t3", "t2", "t1"]}])  # fmt: skip
    resp = client.post(f"{API}/scripts/import", json=project, headers=alice)
    assert resp.status_code == 422, resp.json
    error = resp.json["error"]
    assert error["message"] == "test 'bad locator': tests.1.commands.1.target: Unknown locator class"
    assert [d["field"] for d in error["details"]] == [
        "tests.1.commands.1.target", "tests.2.commands.0.target", "tests.3.commands.0.target",
        "tests.3.commands.1.target",
    ]  # fmt: skip
    assert client.get(f"{API}/scripts", headers=alice).json["total"] == 1  # the list is unchanged


def test_a_refused_import_lists_a_bounded_number_of_problems(client, auth_header):
    project = side_project([side_test(f"t{i}", f"test {i}", [("click", "", "")] * 300) for i in range(4)])
    resp = client.post(f"{API}/scripts/import", json=project, headers=auth_header("tester"))
    assert resp.status_code == 422
    details = resp.json["error"]["details"]
    assert len(details) == 1001 and details[-1] == {"field": "project", "message": "200 more problems not listed"}


def test_a_database_failure_mid_import_leaves_nothing_written(client, auth_header):
    """The second script's INSERT has been sent when the failure comes: the rows before it go too."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from web_test_service.models import Script

    inserted = []

    def fail_after_the_first(mapper, connection, target):
        inserted.append(target.name)
        if len(inserted) == 2:
            raise OperationalError("INSERT INTO scripts", {}, Exception("disk I/O error"))

    alice = auth_header("tester", "alice")
    event.listen(Script, "after_insert", fail_after_the_first)
    try:
        resp = client.post(f"{API}/scripts/import", json=current_ide_project(), headers=alice)
    finally:
        event.remove(Script, "after_insert", fail_after_the_first)
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert inserted == ["login", "checkout"]
    assert client.get(f"{API}/scripts", headers=alice).json["total"] == 0


def test_the_openapi_document_shows_warnings_and_runnable(client):
    schemas = client.get(f"{API}/openapi.json").json["components"]["schemas"]
    imported = schemas["ImportedProject"]["properties"]
    assert {"items", "total", "project", "warnings"} <= set(imported)
    assert {"runnable", "unrunnable"} <= set(schemas["ScriptRead"]["properties"])
