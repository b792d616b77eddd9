"""The command table: families, the verify* twins derived from assert*, and commands run on the fake driver."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fake_driver import FakeBrowser, FakeElement

from web_test_service.runner import ERROR, FAILED, PASSED, run_script
from web_test_service.runner.commands import (
    CHECK_COMMANDS,
    COMMANDS,
    CONTROL_FLOW,
    FAMILIES,
    CommandSpec,
    build_command_table,
)
from web_test_service.runner.commands.spec import Arg
from web_test_service.runner.errors import StepFailure, VerificationFailure

BASE = "http://app.test"


def cmd(command: str, target: str = "", value: str = "", **extra) -> dict:
    return {"command": command, "target": target, "value": value, **extra}


def family_of(name: str) -> str:
    for family in FAMILIES:
        suffixes = {"assert" + suffix for suffix in getattr(family, "ASSERTIONS", {})}
        if name in getattr(family, "ACTIONS", {}) or name in suffixes:
            return family.__name__.rsplit(".", 1)[-1]
    raise KeyError(name)


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("open", "navigation"),
        ("selectFrame", "navigation"),
        ("storeWindowHandle", "navigation"),
        ("click", "mouse"),
        ("dragAndDropToObject", "mouse"),
        ("type", "input"),
        ("check", "input"),
        ("select", "input"),
        ("waitForElementVisible", "waits"),
        ("pause", "waits"),
        ("storeText", "store"),
        ("echo", "store"),
        ("assertText", "assertions"),
        ("assert", "assertions"),
        ("assertAlert", "dialogs"),
        ("answerPrompt", "dialogs"),
        ("executeScript", "scripts"),
        ("run", "scripts"),
    ],
)
def test_each_command_lives_in_its_family(name, family):
    assert family_of(name) == family


def test_every_assert_has_a_verify_twin_with_the_same_arguments():
    asserts = [name for name in COMMANDS if name.startswith("assert")]
    assert len(asserts) == 19
    for name in asserts:
        twin = COMMANDS["verify" + name[len("assert") :]]
        assert (twin.target, twin.value) == (COMMANDS[name].target, COMMANDS[name].value)
        assert twin.handler.__name__ == f"verify_{COMMANDS[name].handler.__name__}"
    assert all(COMMANDS[name].handler is None for name in CONTROL_FLOW)


def test_verify_turns_a_failure_into_a_soft_one():
    def check(ctx, inv):
        raise StepFailure("nope")

    family = SimpleNamespace(ACTIONS={}, ASSERTIONS={"Thing": (check, Arg.LOCATOR, Arg.NONE)})
    table = build_command_table((family,))
    with pytest.raises(StepFailure) as hard:
        table["assertThing"].handler(None, None)
    assert type(hard.value) is StepFailure
    with pytest.raises(VerificationFailure, match="nope"):
        table["verifyThing"].handler(None, None)


def test_the_checks_are_the_asserts_their_verify_twins_and_the_waits():
    """What a failing step means depends on these (runner/outcomes.py): a check fails the run, an action errs it."""
    waits = {name for name in COMMANDS if name.startswith("waitFor")}
    assert len(waits) == 7 and "waitForText" in waits
    asserts = {name for name in COMMANDS if name.startswith("assert")}
    verifies = {"verify" + name[len("assert") :] for name in asserts}
    assert len(CHECK_COMMANDS) == 45 and asserts | verifies | waits == CHECK_COMMANDS
    assert {"assert", "verify", "assertAlert", "verifyConfirmation", "assertPrompt"} <= CHECK_COMMANDS
    actions = {"click", "type", "select", "sendKeys", "storeText", "mouseOver", "pause", "run", "acceptAlert", "open"}
    assert not actions & CHECK_COMMANDS


def test_a_command_defined_twice_is_refused():
    family = SimpleNamespace(ACTIONS={"if": CommandSpec(lambda ctx, inv: None)})
    with pytest.raises(ValueError, match="Command if is defined twice"):
        build_command_table((family,))


# ---- commands on the fake driver -------------------------------------------------------------------


@pytest.fixture()
def browser() -> FakeBrowser:
    browser = FakeBrowser()
    browser.driver.add_page(
        f"{BASE}/form.html",
        "Form",
        FakeElement("input", id="name", value="old"),
        FakeElement("input", id="file", type="file", value="a.txt"),
        FakeElement("input", id="fixed", value="x", readonly="readonly"),
        FakeElement("input", id="agree", type="checkbox"),
        FakeElement(
            "select",
            id="color",
            children=[
                FakeElement("option", "Red", value="r", selected=True),
                FakeElement("option", "Blue", value="b", id="blue"),
            ],
        ),
        FakeElement("a", "Go to other page", id="link", href="/other.html"),
        FakeElement("ul", children=[FakeElement("li", "1", class_="item"), FakeElement("li", "2", class_="item")]),
        FakeElement("div", "hidden", id="later", displayed=False),
        FakeElement("div", "old", id="editable", contenteditable="true"),
        FakeElement("form", id="search"),
        FakeElement("iframe", id="frame", children=[FakeElement("p", "Inner", id="inner")]),
    )
    return browser


def run(browser: FakeBrowser, *commands: dict):
    result = run_script(
        {"commands": [cmd("open", "/form.html"), *commands]}, browser.factory, base_url=BASE, implicit_wait_ms=100
    )
    return result


def test_input_commands(browser):
    result = run(
        browser,
        cmd("type", "id=name", "new"),
        cmd("check", "id=agree"),
        cmd("check", "id=agree"),
        cmd("assertChecked", "id=agree"),
        cmd("select", "id=color", "label=Blue"),
        cmd("assertSelectedValue", "id=color", "b"),
        cmd("assertSelectedLabel", "id=color", "Blue"),
        cmd("select", "id=color", "index=1"),
        cmd("assertNotSelectedValue", "id=color", "b"),
        cmd("editContent", "id=editable", "edited"),
        cmd("assertText", "id=editable", "edited"),
        cmd("assertEditable", "id=name"),
        cmd("assertNotEditable", "id=fixed"),
        cmd("submit", "id=search"),
    )
    assert result.state == PASSED, result.message
    driver = browser.driver
    assert driver.element("name").attributes["value"] == "new"
    assert driver.element("agree").clicks == 1
    assert driver.element("search").submitted
    assert result.steps[-1].message == "submit is deprecated: click the form's submit button instead"


def test_store_and_wait_commands(browser):
    result = run(
        browser,
        cmd("storeAttribute", "id=link@href", "href"),
        cmd("storeElementCount", "css=li.item", "items"),
        cmd("storeValue", "id=name", "value"),
        cmd("storeText", "link=Go to other page", "text"),
        cmd("waitForElementPresent", "id=link", "50"),
        cmd("waitForElementNotPresent", "id=nothing", "50"),
        cmd("waitForElementNotVisible", "id=later", "50"),
        cmd("waitForElementNotEditable", "id=fixed", "50"),
        cmd("waitForText", "partialLinkText=other", "Go to other page"),
        cmd("waitForElementVisible", "id=later", "50"),
    )
    assert result.state == FAILED
    assert result.message == "Timed out after 50 ms waiting for element id=later to be visible"
    assert result.variables == {"href": "/other.html", "items": 2, "value": "old", "text": "Go to other page"}


def test_frames(browser):
    result = run(
        browser,
        cmd("selectFrame", "id=frame"),
        cmd("assertText", "id=inner", "Inner"),
        cmd("selectFrame", "relative=top"),
        cmd("assertElementNotPresent", "id=inner"),
        cmd("selectFrame", "index=0"),
        cmd("assertElementPresent", "id=inner"),
        cmd("selectFrame", "relative=parent"),
        cmd("selectFrame", "index=1"),
    )
    assert result.state == ERROR and result.error_code == "command_failed" and result.failed_step == 8
    assert result.message.startswith("no frame at index 1")


@pytest.mark.parametrize(
    "command",
    [
        cmd("click", "id=nope"),
        cmd("doubleClick", "id=nope"),
        cmd("clickAt", "id=nope", "1,1"),
        cmd("mouseOver", "id=nope"),
        cmd("dragAndDropToObject", "id=link", "id=nope"),
        cmd("type", "id=nope", "x"),
        cmd("sendKeys", "id=nope", "x"),
        cmd("check", "id=nope"),
        cmd("select", "id=nope", "label=Red"),
        cmd("select", "id=color", "label=Green"),
        cmd("editContent", "id=nope", "x"),
        cmd("editContent", "id=name", "x"),
        cmd("submit", "id=nope"),
        cmd("storeText", "id=nope", "v"),
        cmd("storeAttribute", "id=nope@href", "v"),
        cmd("selectFrame", "id=nope"),
        cmd("selectWindow", "handle=nope"),
    ],
    ids=lambda command: f"{command['command']} {command['target']} {command['value']}".strip(),
)
def test_an_action_that_finds_no_element_or_cannot_use_it_errs_the_run(browser, command):
    result = run(browser, command, cmd("echo", "never"))
    assert (result.state, result.error_code) == (ERROR, "command_failed"), result.message
    assert [step.state for step in result.steps] == [PASSED, ERROR] and result.echo_log == []


@pytest.mark.parametrize(
    "command",
    [
        cmd("assertText", "id=nope", "x"),
        cmd("assertNotText", "id=nope", "x"),
        cmd("assertValue", "id=nope", "x"),
        cmd("assertChecked", "id=nope"),
        cmd("assertEditable", "id=nope"),
        cmd("assertElementPresent", "id=nope"),
        cmd("assertSelectedLabel", "id=nope", "Red"),
        cmd("assertAlert", "Hello"),
        cmd("waitForElementPresent", "id=nope", "50"),
        cmd("waitForElementVisible", "id=nope", "50"),
        cmd("waitForText", "id=nope", "x"),
    ],
    ids=lambda command: f"{command['command']} {command['target']}",
)
def test_a_check_on_a_missing_element_fails_the_run(browser, command):
    result = run(browser, command, cmd("echo", "never"))
    assert (result.state, result.error_code) == (FAILED, None), result.message
    assert [step.state for step in result.steps] == [PASSED, FAILED] and result.echo_log == []


def test_mouse_commands_send_pointer_actions(browser):
    result = run(browser, cmd("doubleClick", "id=link"), cmd("clickAt", "id=link", "10,5"), cmd("mouseOver", "id=link"))
    assert result.state == PASSED, result.message
    moves = [
        action
        for _command, params in browser.driver.actions
        if params
        for device in params["actions"]
        for action in device["actions"]
        if action["type"] == "pointerMove"
    ]
    assert [(move["x"], move["y"]) for move in moves] == [(0, 0), (10, 5), (0, 0)]


def test_scripts(browser):
    browser.driver.async_scripts["return later(arguments[0]);"] = lambda n: n + 1
    browser.driver.async_scripts["return Promise.reject(new Error('nope'));"] = RuntimeError("nope")
    result = run_script(
        {
            "commands": [
                cmd("executeAsyncScript", "return later(${n});", "later"),
                cmd("runScript", "window.x = 1;"),
                cmd("executeAsyncScript", "return Promise.reject(new Error('nope'));"),
            ]
        },
        browser.factory,
        variables={"n": 41},
        timeout_ms=5000,
    )
    assert result.variables["later"] == 42
    assert result.message == "Promise rejected: nope" and result.failed_step == 2
    assert browser.driver.timeouts["script"] <= 5
