"""Script commands: JavaScript in the page, control-flow conditions, other tests (`run`), playback controls."""

from __future__ import annotations

from web_test_service.runner.commands.spec import Arg, CommandSpec, Invocation
from web_test_service.runner.context import RunContext
from web_test_service.runner.errors import ScriptError
from web_test_service.runner.variables import interpolate_script

# Async scripts must finish within this, unless the implicit wait or the deadline says otherwise.
MIN_ASYNC_SCRIPT_TIMEOUT_MS = 30_000

ASYNC_SCRIPT_WRAPPER = """
var __done = arguments[arguments.length - 1];
var __args = Array.prototype.slice.call(arguments, 0, -1);
try {
  Promise.resolve((function() { %s }).apply(window, __args)).then(
    function(value) { __done({ok: true, value: value}); },
    function(error) { __done({ok: false, error: String(error && error.message || error)}); });
} catch (error) { __done({ok: false, error: String(error && error.message || error)}); }
"""


def do_execute_script(ctx: RunContext, inv: Invocation) -> None:
    script, arguments = interpolate_script(inv.raw_target, ctx.variables)
    result = ctx.driver.execute_script(script, *arguments)
    if inv.value:
        ctx.variables[inv.value] = result


def do_execute_async_script(ctx: RunContext, inv: Invocation) -> None:
    script, arguments = interpolate_script(inv.raw_target, ctx.variables)
    timeout_ms: float = max(ctx.implicit_wait_ms, MIN_ASYNC_SCRIPT_TIMEOUT_MS)
    remaining = ctx.remaining_s()
    if remaining is not None:
        timeout_ms = min(timeout_ms, max(1000, remaining * 1000))
    ctx.driver.set_script_timeout(timeout_ms / 1000)
    outcome = ctx.driver.execute_async_script(ASYNC_SCRIPT_WRAPPER % script, *arguments)
    if not outcome.get("ok"):
        raise ScriptError(f"Promise rejected: {outcome.get('error')}")
    if inv.value:
        ctx.variables[inv.value] = outcome.get("value")


def do_run_script(ctx: RunContext, inv: Invocation) -> None:
    ctx.driver.execute_script(
        "var tag = document.createElement('script'); tag.type = 'text/javascript';"
        " tag.text = arguments[0]; (document.body || document.documentElement).appendChild(tag);",
        inv.target,
    )


def evaluate_condition(ctx: RunContext, expression: str) -> bool:
    """Evaluate a control-flow condition in the browser, as Selenium IDE does."""
    script, arguments = interpolate_script(expression, ctx.variables)
    return bool(ctx.driver.execute_script(f"return !!({script});", *arguments))


def do_run(ctx: RunContext, inv: Invocation) -> None:
    if ctx.run_sub_test is None:
        raise ScriptError("'run' needs other tests of the project, and none were given")
    ctx.run_sub_test(inv.target)


def not_supported(ctx: RunContext, inv: Invocation) -> None:
    raise ScriptError(f"'{inv.name}' is not supported in this run mode")


ACTIONS: dict[str, CommandSpec] = {
    "executeScript": CommandSpec(do_execute_script, Arg.SCRIPT, Arg.OPTIONAL_VARIABLE),
    "executeAsyncScript": CommandSpec(do_execute_async_script, Arg.SCRIPT, Arg.OPTIONAL_VARIABLE),
    "runScript": CommandSpec(do_run_script, Arg.SCRIPT),
    "run": CommandSpec(do_run, Arg.TEST_NAME),
    "debugger": CommandSpec(not_supported),
    "setSpeed": CommandSpec(not_supported, Arg.OPTIONAL_NUMBER),
}
