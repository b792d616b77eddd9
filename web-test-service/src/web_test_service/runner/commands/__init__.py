"""The Selenium IDE command table: command name -> handler and argument kinds, by family."""

from __future__ import annotations

from types import ModuleType

from web_test_service.runner.commands import (
    assertions,
    dialogs,
    input,
    mouse,
    navigation,
    scripts,
    store,
    waits,
)
from web_test_service.runner.commands.scripts import evaluate_condition
from web_test_service.runner.commands.spec import REQUIRED_ARGS, Arg, CommandSpec, Handler, Invocation
from web_test_service.runner.context import RunContext
from web_test_service.runner.errors import StepFailure, VerificationFailure

__all__ = [
    "CHECK_COMMANDS",
    "COMMANDS",
    "FAMILIES",
    "REQUIRED_ARGS",
    "SUPPORTED_COMMANDS",
    "Arg",
    "CommandSpec",
    "Handler",
    "Invocation",
    "build_command_table",
    "evaluate_condition",
]

# Each family has ACTIONS {name: CommandSpec}; some also have ASSERTIONS {suffix: (check, target, value)}.
FAMILIES: tuple[ModuleType, ...] = (navigation, mouse, input, waits, store, assertions, dialogs, scripts)

# The commands that state an expectation about the page: assert* and their verify* twins (dialogs' among them) and the
# waitFor* waits. A StepFailure in one of them is the test failing (`failed`); in any other command (click, type,
# storeText...) the script could not run as written (`error`, runner/outcomes.py).
CHECK_PREFIXES = ("assert", "verify", "waitFor")

# Control flow is executed by the engine; entries here carry the argument kinds for validation.
CONTROL_FLOW: dict[str, CommandSpec] = {
    "if": CommandSpec(None, Arg.SCRIPT),
    "elseIf": CommandSpec(None, Arg.SCRIPT),
    "else": CommandSpec(None),
    "end": CommandSpec(None),
    "while": CommandSpec(None, Arg.SCRIPT, Arg.OPTIONAL_NUMBER),
    "times": CommandSpec(None, Arg.TEXT, Arg.OPTIONAL_NUMBER),
    "do": CommandSpec(None),
    "repeatIf": CommandSpec(None, Arg.SCRIPT, Arg.OPTIONAL_NUMBER),
    "forEach": CommandSpec(None, Arg.VARIABLE, Arg.VARIABLE),
}


def soft(check: Handler) -> Handler:
    """Turn an assertion into its verify twin: a failure no longer stops the run."""

    def verify(ctx: RunContext, inv: Invocation) -> str | None:
        try:
            return check(ctx, inv)
        except StepFailure as failure:
            if isinstance(failure, VerificationFailure):
                raise
            raise VerificationFailure(str(failure)) from failure

    verify.__name__ = f"verify_{check.__name__}"
    return verify


def build_command_table(families: tuple[ModuleType, ...] = FAMILIES) -> dict[str, CommandSpec]:
    """Every supported command: the families' actions, assert*/verify* pairs and control flow."""
    entries: list[tuple[str, CommandSpec]] = []
    for family in families:
        entries += getattr(family, "ACTIONS", {}).items()
        for suffix, (check, target, value) in getattr(family, "ASSERTIONS", {}).items():
            entries.append(("assert" + suffix, CommandSpec(check, target, value)))
            entries.append(("verify" + suffix, CommandSpec(soft(check), target, value)))
    entries += CONTROL_FLOW.items()
    table: dict[str, CommandSpec] = {}
    for name, spec in entries:
        if name in table:
            raise ValueError(f"Command {name} is defined twice")
        table[name] = spec
    return table


COMMANDS: dict[str, CommandSpec] = build_command_table()
SUPPORTED_COMMANDS: frozenset[str] = frozenset(COMMANDS)
CHECK_COMMANDS: frozenset[str] = frozenset(name for name in COMMANDS if name.startswith(CHECK_PREFIXES))
