"""Wait commands: waitForElement* states, waitForText and pause."""

from __future__ import annotations

from collections.abc import Callable

from selenium.webdriver.remote.webelement import WebElement

from web_test_service.runner.commands.input import is_editable
from web_test_service.runner.commands.spec import Arg, CommandSpec, Invocation
from web_test_service.runner.context import RunContext
from web_test_service.runner.errors import ScriptError


def timeout_from(text: str, default_ms: int) -> float:
    """A wait time in ms given in a command argument, or the default."""
    if not str(text).strip():
        return default_ms
    try:
        return float(text)
    except ValueError:
        raise ScriptError(f"Wait time must be a number of milliseconds, got {text!r}") from None


def wait_for_elements(ctx: RunContext, inv: Invocation, predicate: Callable[[list[WebElement]], bool], state: str):
    """Wait (value = ms, default the implicit wait) until the elements found satisfy predicate."""
    timeout = timeout_from(inv.value, ctx.implicit_wait_ms)
    ctx.wait_until(
        lambda: predicate(ctx.find_all(inv.target)),
        timeout,
        lambda: f"Timed out after {timeout:g} ms waiting for element {inv.target} to be {state}",
    )


def do_wait_for_element_present(ctx: RunContext, inv: Invocation) -> None:
    wait_for_elements(ctx, inv, bool, "present")


def do_wait_for_element_not_present(ctx: RunContext, inv: Invocation) -> None:
    wait_for_elements(ctx, inv, lambda found: not found, "not present")


def do_wait_for_element_visible(ctx: RunContext, inv: Invocation) -> None:
    wait_for_elements(ctx, inv, lambda found: bool(found) and found[0].is_displayed(), "visible")


def do_wait_for_element_not_visible(ctx: RunContext, inv: Invocation) -> None:
    wait_for_elements(ctx, inv, lambda found: not found or not found[0].is_displayed(), "not visible")


def do_wait_for_element_editable(ctx: RunContext, inv: Invocation) -> None:
    wait_for_elements(ctx, inv, lambda found: bool(found) and is_editable(found[0]), "editable")


def do_wait_for_element_not_editable(ctx: RunContext, inv: Invocation) -> None:
    wait_for_elements(ctx, inv, lambda found: bool(found) and not is_editable(found[0]), "not editable")


def do_wait_for_text(ctx: RunContext, inv: Invocation) -> None:
    expected = inv.value.strip()
    last_seen: list[str] = []

    def has_text() -> bool:
        found = ctx.find_all(inv.target)
        if not found:
            return False
        last_seen[:] = [found[0].text.strip()]
        return last_seen[0] == expected

    ctx.wait_until(
        has_text,
        ctx.implicit_wait_ms,
        lambda: (
            f"Timed out waiting for text '{expected}' in {inv.target}"
            + (f" (last seen '{last_seen[0]}')" if last_seen else " (element not found)")
        ),
    )


def do_pause(ctx: RunContext, inv: Invocation) -> None:
    ctx.pause(timeout_from(inv.target or inv.value, 0))


L, WAIT = Arg.LOCATOR, Arg.OPTIONAL_NUMBER

ACTIONS: dict[str, CommandSpec] = {
    "waitForElementPresent": CommandSpec(do_wait_for_element_present, L, WAIT),
    "waitForElementNotPresent": CommandSpec(do_wait_for_element_not_present, L, WAIT),
    "waitForElementVisible": CommandSpec(do_wait_for_element_visible, L, WAIT),
    "waitForElementNotVisible": CommandSpec(do_wait_for_element_not_visible, L, WAIT),
    "waitForElementEditable": CommandSpec(do_wait_for_element_editable, L, WAIT),
    "waitForElementNotEditable": CommandSpec(do_wait_for_element_not_editable, L, WAIT),
    "waitForText": CommandSpec(do_wait_for_text, L, Arg.OPTIONAL_TEXT),
    "pause": CommandSpec(do_pause, Arg.OPTIONAL_NUMBER, Arg.OPTIONAL_NUMBER),
}
