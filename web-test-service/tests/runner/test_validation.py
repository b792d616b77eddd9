"""Save-time validation of command lists and control-flow structure."""

from __future__ import annotations

import pytest

from web_test_service.runner.control_flow import ControlFlowError, build_blocks
from web_test_service.runner.validation import SUPPORTED_COMMANDS, validate_commands

SIDE_FORMAT_COMMANDS = [
    "open",
    "setWindowSize",
    "selectWindow",
    "selectFrame",
    "close",
    "storeWindowHandle",
    "click",
    "doubleClick",
    "check",
    "uncheck",
    "mouseDown",
    "mouseUp",
    "mouseOver",
    "mouseOut",
    "clickAt",
    "doubleClickAt",
    "mouseDownAt",
    "mouseUpAt",
    "mouseMoveAt",
    "dragAndDropToObject",
    "type",
    "sendKeys",
    "editContent",
    "select",
    "addSelection",
    "removeSelection",
    "submit",
    "waitForElementPresent",
    "waitForElementNotPresent",
    "waitForElementVisible",
    "waitForElementNotVisible",
    "waitForElementEditable",
    "waitForElementNotEditable",
    "waitForText",
    "store",
    "storeText",
    "storeValue",
    "storeAttribute",
    "storeElementCount",
    "storeTitle",
    "storeJson",
    "assert",
    "assertText",
    "assertNotText",
    "assertValue",
    "assertNotValue",
    "assertTitle",
    "assertChecked",
    "assertNotChecked",
    "assertEditable",
    "assertNotEditable",
    "assertElementPresent",
    "assertElementNotPresent",
    "assertSelectedValue",
    "assertNotSelectedValue",
    "assertSelectedLabel",
    "assertNotSelectedLabel",
    "assertAlert",
    "assertConfirmation",
    "assertPrompt",
    "acceptAlert",
    "acceptConfirmation",
    "dismissConfirmation",
    "dismissPrompt",
    "answerPrompt",
    "executeScript",
    "executeAsyncScript",
    "runScript",
    "echo",
    "pause",
    "run",
    "debugger",
    "setSpeed",
    "if",
    "elseIf",
    "else",
    "end",
    "while",
    "times",
    "do",
    "repeatIf",
    "forEach",
]


def cmd(command: str, target: str = "", value: str = "", **extra) -> dict:
    return {"command": command, "target": target, "value": value, **extra}


def test_every_command_of_the_format_is_supported_with_its_verify_twin():
    missing = [name for name in SIDE_FORMAT_COMMANDS if name not in SUPPORTED_COMMANDS]
    assert missing == []
    for name in SIDE_FORMAT_COMMANDS:
        if name.startswith("assert"):
            assert "verify" + name[len("assert") :] in SUPPORTED_COMMANDS


def test_valid_script_has_no_problems():
    commands = [
        cmd("open", "/"),
        cmd("type", "id=${field}", "x"),
        cmd("select", "css=select", "label=One"),
        cmd("storeAttribute", "id=a@href", "href"),
        cmd("if", "${href} !== ''"),
        cmd("clickAt", "//div", "1,2"),
        cmd("else"),
        cmd("selectFrame", "index=0\\1"),
        cmd("end"),
        cmd("times", "${n}"),
        cmd("end"),
        cmd("bogus", skip=True),
        cmd("//disabled command"),
        cmd("storeTitle", "", "title"),
    ]
    assert validate_commands(commands) == []


def test_problems_name_index_and_field():
    problems = validate_commands(
        [
            cmd("open", "/"),
            cmd("clikc", "id=a"),
            cmd("click", "foo=bar"),
            cmd("click"),
            cmd("type", "${locator}", "x"),
            cmd("select", "id=s", "text=A"),
            cmd("setWindowSize", "large"),
            cmd("storeJson", "{bad", "v"),
            cmd("times", "many"),
            cmd("storeText", "id=a"),
        ]
    )
    by_index = {(item["index"], item["field"]): item["message"] for item in problems}
    assert by_index[(1, "command")] == "Unknown command clikc"
    assert by_index[(2, "target")] == "Unknown locator foo"
    assert "required" in by_index[(3, "target")]
    assert "Unknown locator ${locator}" in by_index[(4, "target")]
    assert by_index[(5, "value")] == "Unknown selection locator text"
    assert (6, "target") in by_index
    assert by_index[(7, "target")].startswith("Invalid JSON")
    assert (8, "target") in by_index
    assert "required" in by_index[(9, "value")]
    assert [item["index"] for item in problems] == sorted(item["index"] for item in problems)


@pytest.mark.parametrize(
    ("commands", "index", "fragment"),
    [
        ([cmd("if", "true")], 0, "'if' has no matching 'end'"),
        ([cmd("end")], 0, "'end' without a matching"),
        ([cmd("else")], 0, "not inside an 'if'"),
        ([cmd("while", "true"), cmd("else"), cmd("end")], 1, "not inside an 'if'"),
        ([cmd("if", "1"), cmd("else"), cmd("elseIf", "2"), cmd("end")], 2, "after 'else'"),
        ([cmd("do"), cmd("end")], 1, "'end' without"),
        ([cmd("repeatIf", "true")], 0, "without a matching 'do'"),
        ([cmd("do")], 0, "'do' has no matching 'repeatIf'"),
    ],
)
def test_unbalanced_control_flow(commands, index, fragment):
    problems = validate_commands(commands)
    assert any(p["index"] == index and p["field"] == "command" and fragment in p["message"] for p in problems), problems
    with pytest.raises(ControlFlowError):
        build_blocks(commands)


def test_non_list_input_is_a_problem():
    assert validate_commands("open")[0]["field"] == "commands"
    assert validate_commands([42])[0]["message"] == "Each command must be an object"


def test_literal_strategy_before_a_variable_is_checked():
    problems = validate_commands([cmd("click", "foo=${x}"), cmd("click", "css=${x}"), cmd("click", "//a[@id='${x}']")])
    assert problems == [{"index": 0, "field": "target", "message": "Unknown locator foo"}]


def test_numbers_must_be_finite():
    problems = validate_commands(
        [cmd("pause", "inf"), cmd("pause", "nan"), cmd("pause", "250"), cmd("times", "1e400"), cmd("end")]
    )
    assert [item["index"] for item in problems] == [0, 1, 3]
