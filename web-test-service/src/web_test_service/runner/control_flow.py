"""Block structure of if/while/times/forEach/do: matching opener, branch and end commands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from web_test_service.runner.errors import ScriptError

BRANCH_OPENERS = frozenset({"if"})
LOOP_OPENERS = frozenset({"while", "times", "forEach"})

DEFAULT_LOOP_LIMIT = 1000
LOOP_LIMIT_MESSAGE = "Max retry limit exceeded. To override it, specify a new limit in the value input field."


class ControlFlowError(ScriptError):
    """Unbalanced or misplaced control-flow commands; `index` names the offending command."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"Command {index}: {message}")
        self.index = index
        self.message = message


@dataclass
class Blocks:
    """Jump table of a command list, computed once before the run."""

    # opener/elseIf/else index -> the next elseIf/else/end of the same if-block
    next_branch: dict[int, int] = field(default_factory=dict)
    # if/elseIf/else/while/times/forEach index -> its end; do -> its repeatIf
    block_end: dict[int, int] = field(default_factory=dict)
    # end -> its opener; repeatIf -> its do
    block_start: dict[int, int] = field(default_factory=dict)


def command_name(command: object) -> str:
    """The command name of one command dict ('' for anything malformed)."""
    if isinstance(command, dict):
        name = command.get("command")
        return name.strip() if isinstance(name, str) else ""
    return ""


def is_skipped(command: object) -> bool:
    """Whether the command is disabled (`skip: true`) or commented out (`//name`) or empty."""
    name = command_name(command)
    return not name or name.startswith("//") or bool(isinstance(command, dict) and command.get("skip"))


def build_blocks(commands: Sequence[dict]) -> Blocks:
    """Match every control-flow command with its partners or raise ControlFlowError."""
    blocks = Blocks()
    # Each open block: (opener index, opener name, index of its latest branch, whether else was seen)
    stack: list[list] = []
    for index, command in enumerate(commands):
        if is_skipped(command):
            continue
        name = command_name(command)
        if name in BRANCH_OPENERS or name in LOOP_OPENERS or name == "do":
            stack.append([index, name, index, False])
        elif name in ("elseIf", "else"):
            if not stack or stack[-1][1] != "if":
                raise ControlFlowError(index, f"'{name}' is not inside an 'if' block")
            block = stack[-1]
            if block[3]:
                raise ControlFlowError(index, f"'{name}' after 'else' in the same 'if' block")
            blocks.next_branch[block[2]] = index
            block[2] = index
            block[3] = name == "else"
        elif name == "end":
            if not stack or stack[-1][1] == "do":
                raise ControlFlowError(index, "'end' without a matching if, while, times or forEach")
            opener, opener_name, last_branch, _ = stack.pop()
            blocks.next_branch[last_branch] = index
            blocks.block_start[index] = opener
            blocks.block_end[opener] = index
            if opener_name == "if":
                branch = opener
                while branch != index:
                    blocks.block_end[branch] = index
                    branch = blocks.next_branch[branch]
        elif name == "repeatIf":
            if not stack or stack[-1][1] != "do":
                raise ControlFlowError(index, "'repeatIf' without a matching 'do'")
            opener = stack.pop()[0]
            blocks.block_start[index] = opener
            blocks.block_end[opener] = index
    if stack:
        opener, opener_name = stack[-1][0], stack[-1][1]
        closer = "repeatIf" if opener_name == "do" else "end"
        raise ControlFlowError(opener, f"'{opener_name}' has no matching '{closer}'")
    return blocks


def loop_limit(value: str) -> int:
    """The loop limit given in a loop command's value, or the default of 1000."""
    try:
        limit = int(float(value))
    except (TypeError, ValueError):
        return DEFAULT_LOOP_LIMIT
    return limit if limit > 0 else DEFAULT_LOOP_LIMIT
