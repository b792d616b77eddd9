"""Importing Selenium IDE .side projects (versions 1.x-3.x)."""

from __future__ import annotations

import copy
import json

import pytest

from web_test_service.runner.validation import validate_commands
from web_test_service.side_import import SideProjectError, load_side_project

PROJECT = {
    "id": "p1",
    "version": "2.0",
    "name": "shop",
    "url": "http://shop.test",
    "urls": ["http://shop.test/"],
    "plugins": [],
    "tests": [
        {
            "id": "t-login",
            "name": "login",
            "commands": [
                {
                    "id": "c1",
                    "comment": "",
                    "command": "open",
                    "target": "/login",
                    "targets": [],
                    "value": "",
                },
                {
                    "id": "c2",
                    "comment": "user field",
                    "command": "type",
                    "target": "id=username",
                    "targets": [["id=username", "id"], ["css=#username", "css:finder"]],
                    "value": "tomsmith",
                },
            ],
        },
        {
            "id": "t-buy",
            "name": "buy",
            "commands": [
                {"id": "c3", "command": "run", "target": "login", "targets": [], "value": ""},
                {
                    "id": "c4",
                    "command": "click",
                    "target": "id=buy",
                    "value": "",
                    "opensWindow": True,
                    "windowHandleName": "win1",
                    "windowTimeout": 2000,
                },
                {"id": "c5", "command": "echo", "target": "off", "value": "", "skip": True},
            ],
        },
        {"id": "t-lone", "name": "lonely", "commands": []},
    ],
    "suites": [
        {
            "id": "s1",
            "name": "checkout",
            "persistSession": False,
            "parallel": False,
            "timeout": 60,
            "tests": ["t-buy", "t-login"],
        },
        {"id": "s2", "name": "smoke", "tests": ["t-login"]},
    ],
}


def test_scripts_follow_suite_order_with_suite_info():
    project = load_side_project(PROJECT)
    assert project.name == "shop"
    assert [script["name"] for script in project.scripts] == ["buy", "login", "lonely"]
    buy, login, lonely = project.scripts
    assert buy["base_url"] == "http://shop.test"
    assert buy["suites"] == [{"name": "checkout", "position": 0}]
    assert login["suites"] == [{"name": "checkout", "position": 1}, {"name": "smoke", "position": 0}]
    assert lonely["suites"] == []
    assert buy["timeout_ms"] == 60_000 and "timeout_ms" not in lonely
    assert project.suites[0]["tests"] == ["buy", "login"]
    assert project.suites[1]["timeout_ms"] == 300_000


def test_commands_keep_fallbacks_and_window_options():
    buy, login, _ = load_side_project(json.dumps(PROJECT)).scripts
    assert login["commands"][1] == {
        "command": "type",
        "target": "id=username",
        "value": "tomsmith",
        "targets": [["id=username", "id"], ["css=#username", "css:finder"]],
        "comment": "user field",
    }
    assert buy["commands"][1]["opensWindow"] is True and buy["commands"][1]["windowHandleName"] == "win1"
    assert buy["commands"][2]["skip"] is True
    assert validate_commands(buy["commands"]) == []


def test_run_resolves_tests_by_name():
    resolve = load_side_project(PROJECT).resolver()
    assert resolve("login")[0]["command"] == "open"
    assert resolve("nope") is None


@pytest.mark.parametrize("version", ["1.1", "2.0", "3.0", 3])
def test_supported_versions(version):
    project = copy.deepcopy(PROJECT) | {"version": version}
    assert len(load_side_project(project).scripts) == 3


def break_project(change) -> dict:
    project = copy.deepcopy(PROJECT)
    change(project)
    return project


@pytest.mark.parametrize(
    ("source", "field", "message"),
    [
        ("{not json", "project", "invalid JSON"),
        ("[]", "project", "must be a JSON object"),
        ('{"version": NaN, "tests": []}', "project", "invalid JSON"),
        (break_project(lambda p: p.pop("version")), "version", "version: Field required"),
        (break_project(lambda p: p.update(version="4.0")), "project", "Unsupported .side version 4.0"),
        (break_project(lambda p: p.update(version=[2])), "version", "version"),
        (break_project(lambda p: p.update(tests=[])), "tests", "tests: List should have at least 1 item"),
        (break_project(lambda p: p["tests"][0].pop("commands")), "tests.0.commands", "Field required"),
        (break_project(lambda p: p["tests"][0]["commands"][0].pop("command")), "tests.0.commands.0.command", ""),
        (break_project(lambda p: p["suites"][0]["tests"].append("t-ghost")), "suites.0.tests.2", "'t-ghost'"),
        (break_project(lambda p: p["tests"][1]["commands"][0].update(target="ghost")), "tests.1.commands.0.target",
         "runs unknown test 'ghost'"),
        (break_project(lambda p: p["tests"][1].update(id="t-login")), "tests.1.id", "test id 't-login' is used twice"),
    ],
)  # fmt: skip
def test_invalid_projects_name_the_problem(source, field, message):
    with pytest.raises(SideProjectError) as caught:
        load_side_project(source)
    assert message in str(caught.value)
    assert caught.value.details[0]["field"] == field
    assert isinstance(caught.value, ValueError)


# Each of these was a 500 on import (issue 11), or was saved although it is not what Selenium IDE writes.
@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p["tests"][0]["commands"][1].update(targets=5), "tests.0.commands.1.targets"),
        (lambda p: p["tests"][0]["commands"][1].update(targets=[[{}]]), "tests.0.commands.1.targets.0.0"),
        (lambda p: p["tests"][0]["commands"][1].update(targets=[["a", "b", "c"]]), "tests.0.commands.1.targets.0"),
        (lambda p: p["tests"][0]["commands"][1].update(fallbackTargets="x"), "tests.0.commands.1.fallbackTargets"),
        (lambda p: p["tests"][0]["commands"][1].update(value=10**30), "tests.0.commands.1.value"),
        (lambda p: p["tests"][0]["commands"][1].update(target=["x"]), "tests.0.commands.1.target"),
        (lambda p: p["tests"][0]["commands"][1].update(windowTimeout=1e308), "tests.0.commands.1.windowTimeout"),
        (lambda p: p["tests"][0]["commands"].append([1]), "tests.0.commands.2"),
        (lambda p: p["tests"][0].update(id=[1]), "tests.0.id"),
        (lambda p: p["tests"][0].update(name="  "), "tests.0.name"),
        (lambda p: p["tests"].append("t"), "tests.3"),
        (lambda p: p["suites"][0].update(tests=[[1]]), "suites.0.tests.0"),
        (lambda p: p["suites"][0].update(tests=[{"id": "t-buy"}]), "suites.0.tests.0"),
        (lambda p: p["suites"][0].update(tests="t-buy"), "suites.0.tests"),
        (lambda p: p["suites"][0].update(timeout="inf"), "suites.0.timeout"),
        (lambda p: p["suites"][0].update(timeout="nan"), "suites.0.timeout"),
        (lambda p: p["suites"][0].update(timeout="-Infinity"), "suites.0.timeout"),
        (lambda p: p["suites"][0].update(timeout=1e308), "suites.0.timeout"),
        (lambda p: p["suites"][0].update(timeout=-1), "suites.0.timeout"),
        (lambda p: p["suites"][0].update(timeout=[60]), "suites.0.timeout"),
        (lambda p: p["suites"][0].update(persistSession="no"), "suites.0.persistSession"),
        (lambda p: p["suites"][0].update(parallel=1), "suites.0.parallel"),
        (lambda p: p["suites"][0].update(timeout="60"), "suites.0.timeout"),
        (lambda p: p["suites"][1].update(name=None), "suites.1.name"),
        (lambda p: p.update(suites={"s1": {}}), "suites"),
        (lambda p: p.update(url="file:///etc/passwd"), "url"),
        (lambda p: p.update(name=5), "name"),
        (lambda p: p.update(version=True), "version"),
        (lambda p: p.update(version=1e308), "version"),
    ],
)
def test_every_field_is_type_checked_by_path(change, field):
    with pytest.raises(SideProjectError) as caught:
        load_side_project(break_project(change))
    assert caught.value.details[0]["field"].startswith(field), caught.value.details
    assert field in str(caught.value)


def test_an_uploaded_file_gets_the_same_checks_as_a_json_body():
    """A multipart upload is parsed here, not by the body checks of shared.body."""
    text = json.dumps(PROJECT).replace('"tomsmith"', '"tom\\u0000smith"')
    with pytest.raises(SideProjectError) as caught:
        load_side_project(text)
    [detail] = caught.value.details
    assert detail["field"] == "tests.0.commands.1.value" and "NUL" in detail["message"]
    with pytest.raises(SideProjectError, match="invalid JSON"):
        load_side_project(json.dumps(PROJECT).replace("60", "Infinity"))
    nested = json.dumps(PROJECT).replace('"plugins": []', '"plugins": ' + "[" * 100 + "]" * 100)
    with pytest.raises(SideProjectError, match="nested deeper"):
        load_side_project(nested)
