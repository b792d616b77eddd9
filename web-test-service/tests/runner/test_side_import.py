"""Importing Selenium IDE .side projects (versions 1.x-3.x)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from web_test_service.runner.validation import validate_commands
from web_test_service.side_import import COMMAND_OPTIONAL_FIELDS, SideProjectError, read_side_project

MAX_RUN_MS = 1_800_000  # WEB_MAX_RUN_SECONDS' default, in ms


def load(source, max_timeout_ms=MAX_RUN_MS):
    """Read a project; broken references raised, as an import refuses them (projects.read_import)."""
    project = read_side_project(source, max_timeout_ms=max_timeout_ms)
    if project.problems:
        first = project.problems[0]
        raise SideProjectError(first["message"], field=first["field"], details=project.problems)
    return project


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
    project = load(PROJECT)
    assert project.name == "shop"
    assert [script["name"] for script in project.scripts] == ["buy", "login", "lonely"]
    buy, login, lonely = project.scripts
    assert buy["base_url"] == "http://shop.test"
    assert buy["suites"] == [{"name": "checkout", "position": 0}]
    assert login["suites"] == [{"name": "checkout", "position": 1}, {"name": "smoke", "position": 0}]
    assert lonely["suites"] == []
    assert buy["timeout_ms"] == 60_000 and lonely["timeout_ms"] == 300_000  # in no suite: the IDE's default
    assert project.suites[0]["tests"] == ["buy", "login"]
    assert project.suites[1]["timeout_ms"] == 300_000


def test_commands_keep_fallbacks_and_window_options():
    buy, login, _ = load(json.dumps(PROJECT)).scripts
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
    resolve = load(PROJECT).resolver()
    assert resolve("login")[0]["command"] == "open"
    assert resolve("nope") is None


@pytest.mark.parametrize("version", ["1.1", "2.0", "3.0", 3])
def test_supported_versions(version):
    project = copy.deepcopy(PROJECT) | {"version": version}
    assert len(load(project).scripts) == 3


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
        load(source)
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
        (lambda p: p["suites"][0].update(timeout=-1), "suites.0.timeout"),
        (lambda p: p["suites"][0].update(timeout=-1e-9), "suites.0.timeout"),
        (lambda p: p["suites"][0].update(timeout=True), "suites.0.timeout"),
        (lambda p: p["suites"][0].update(timeout={"s": 60}), "suites.0.timeout"),
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
        load(break_project(change))
    assert caught.value.details[0]["field"].startswith(field), caught.value.details
    assert field in str(caught.value)


def test_an_uploaded_file_gets_the_same_checks_as_a_json_body():
    """A multipart upload is parsed here, not by the body checks of shared.body."""
    text = json.dumps(PROJECT).replace('"tomsmith"', '"tom\\u0000smith"')
    with pytest.raises(SideProjectError) as caught:
        load(text)
    [detail] = caught.value.details
    assert detail["field"] == "tests.0.commands.1.value" and "NUL" in detail["message"]
    with pytest.raises(SideProjectError, match="invalid JSON"):
        load(json.dumps(PROJECT).replace("60", "Infinity"))
    nested = json.dumps(PROJECT).replace('"plugins": []', '"plugins": ' + "[" * 100 + "]" * 100)
    with pytest.raises(SideProjectError, match="nested deeper"):
        load(nested)


def suite_project(**suite) -> dict:
    project = copy.deepcopy(PROJECT)
    project["suites"][0] = {"id": "s1", "name": "checkout", "tests": ["t-buy", "t-login"]} | suite
    return project


@pytest.mark.parametrize("seconds", [3000, 30000, 86_401, 1e308, 2**62])
def test_suite_timeouts_above_the_platforms_limit_are_clamped_with_a_warning(seconds):
    """30000 s is what the current Selenium IDE writes for every new suite; nothing finite is refused."""
    project = load(suite_project(timeout=seconds))
    assert project.suites[0]["timeout_ms"] == MAX_RUN_MS
    assert {script["name"]: script["timeout_ms"] for script in project.scripts}["buy"] == MAX_RUN_MS
    [warning] = project.warnings
    assert warning["field"] == "suites.0.timeout"
    assert warning["message"].endswith("clamped to 1800 s (WEB_MAX_RUN_SECONDS)"), warning


@pytest.mark.parametrize("suite", [{"timeout": 0}, {"timeout": None}, {}], ids=["zero", "null", "absent"])
def test_a_suite_timeout_of_zero_or_absent_is_the_ides_default(suite):
    project = load(suite_project(**suite))
    assert project.suites[0]["timeout_ms"] == 300_000 and project.warnings == []
    short = load(suite_project(**suite), max_timeout_ms=60_000)  # the default is clamped too, as are tests in no suite
    assert short.suites[0]["timeout_ms"] == 60_000
    assert [w["field"] for w in short.warnings] == ["suites.0.timeout", "suites.1.timeout"]  # suite 1 has none
    assert {script["timeout_ms"] for script in short.scripts} == {60_000}


def test_a_suite_timeout_under_a_second_is_raised_to_one_with_a_warning():
    project = load(suite_project(timeout=0.25))
    assert project.suites[0]["timeout_ms"] == 1000
    assert project.warnings[0]["field"] == "suites.0.timeout" and "raised to 1 s" in project.warnings[0]["message"]


# .side files as Selenium IDE wrote them over the versions (IDE 3.x wrote 1.x and 2.0, IDE 4 writes 3.0), each with
# fields the importer does not use: plugins, urls, dependencies, snapshot, command ids, opensWindowRead, ...
SIDE_FILES = Path(__file__).parent / "side_projects"


KEPT_COMMAND_FIELDS = {"command", "target", "value", "targets", *COMMAND_OPTIONAL_FIELDS}


@pytest.mark.parametrize("version", ["1.x", "2.x", "3.x"])
def test_every_shape_the_ide_writes_imports_and_unknown_fields_are_ignored(version):
    text = (SIDE_FILES / f"ide-{version}.side").read_text()
    document = json.loads(text)
    project = load(text)
    [script] = project.scripts
    assert script["name"] == "home" and script["suites"] == [{"name": "Default Suite", "position": 0}]
    assert all(set(command) <= KEPT_COMMAND_FIELDS for command in script["commands"])
    assert [c["command"] for c in script["commands"]] == [c["command"] for c in document["tests"][0]["commands"]]


def test_every_cross_reference_problem_is_listed_at_once():
    def change(project):
        project["tests"][1]["id"] = "t-login"  # used twice, so suite 0's "t-buy" is no test any more
        project["tests"][1]["commands"][0]["target"] = "ghost"  # `run` of an unknown test
        project["suites"][1]["tests"].append("t-none")  # an unknown test id

    with pytest.raises(SideProjectError) as caught:
        load(break_project(change))
    fields = [detail["field"] for detail in caught.value.details]
    assert fields == ["tests.1.id", "tests.1.commands.0.target", "suites.0.tests.0", "suites.1.tests.1"], fields
    assert str(caught.value).startswith("Invalid .side project: tests.1.id: ")
