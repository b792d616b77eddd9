"""Block structure of control-flow commands: matching branches, ends and loop limits."""

from __future__ import annotations

from web_test_service.runner.control_flow import DEFAULT_LOOP_LIMIT, build_blocks, command_name, is_skipped, loop_limit


def cmd(command: str, target: str = "", value: str = "", **extra) -> dict:
    return {"command": command, "target": target, "value": value, **extra}


def test_block_structure_links_branches_and_loops():
    blocks = build_blocks(
        [
            cmd("if", "a"),
            cmd("elseIf", "b"),
            cmd("else"),
            cmd("end"),
            cmd("do"),
            cmd("repeatIf", "c"),
            cmd("forEach", "xs", "x"),
            cmd("end"),
        ]
    )
    assert blocks.next_branch[0] == 1 and blocks.next_branch[1] == 2 and blocks.next_branch[2] == 3
    assert blocks.block_end[0] == blocks.block_end[1] == blocks.block_end[2] == 3
    assert blocks.block_start[3] == 0
    assert blocks.block_end[4] == 5 and blocks.block_start[5] == 4
    assert blocks.block_end[6] == 7 and blocks.block_start[7] == 6


def test_skipped_commands_take_no_part_in_blocks():
    blocks = build_blocks([cmd("if", "a"), cmd("end", skip=True), cmd("//end"), cmd("end")])
    assert blocks.block_end[0] == 3


def test_command_names_and_skips():
    assert command_name({"command": " click "}) == "click"
    assert command_name({"command": 3}) == "" and command_name("click") == ""
    assert is_skipped(cmd("//click")) and is_skipped(cmd("click", skip=True)) and is_skipped(cmd(""))
    assert not is_skipped(cmd("click"))


def test_loop_limit_comes_from_the_value():
    assert loop_limit("5") == 5 and loop_limit("2.9") == 2
    assert loop_limit("") == loop_limit("x") == loop_limit("0") == loop_limit("-3") == DEFAULT_LOOP_LIMIT
