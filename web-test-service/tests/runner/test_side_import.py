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
    ("source", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[]", "must be a JSON object"),
        (break_project(lambda p: p.pop("version")), "'version' is missing"),
        (break_project(lambda p: p.update(version="4.0")), "Unsupported .side version 4.0"),
        (break_project(lambda p: p.update(tests=[])), "'tests' must be a non-empty list"),
        (break_project(lambda p: p["tests"][0].pop("commands")), "test 'login' has no 'commands' list"),
        (break_project(lambda p: p["tests"][0]["commands"][0].pop("command")), "command 0 has no command name"),
        (break_project(lambda p: p["suites"][0]["tests"].append("t-ghost")), "unknown test id 't-ghost'"),
        (break_project(lambda p: p["tests"][1]["commands"][0].update(target="ghost")), "runs unknown test 'ghost'"),
        (break_project(lambda p: p["tests"][1].update(id="t-login")), "test id 't-login' is used twice"),
    ],
)
def test_invalid_projects_name_the_problem(source, message):
    with pytest.raises(SideProjectError) as caught:
        load_side_project(source)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)
