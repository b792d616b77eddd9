"""Selenium IDE command table: command name -> handler and argument kinds (side-format.md §4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import urljoin, urlparse

from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select

from web_test_service.runner.context import RunContext
from web_test_service.runner.errors import ScriptError, StepFailure, VerificationFailure
from web_test_service.runner.locators import (
    parse_attribute_locator,
    parse_coordinates,
    parse_option_locator,
    parse_window_locator,
    parse_window_size,
)
from web_test_service.runner.variables import interpolate_script, js_string

# Async scripts must finish within this, unless the implicit wait or the deadline says otherwise.
MIN_ASYNC_SCRIPT_TIMEOUT_MS = 30_000


class Arg(Enum):
    """What a command's target or value holds; validation and interpolation depend on it."""

    NONE = "none"
    LOCATOR = "locator"
    OPTION = "option locator"
    ATTRIBUTE_LOCATOR = "attribute locator"
    FRAME = "frame locator"
    WINDOW = "window locator"
    COORDINATES = "coordinates"
    WINDOW_SIZE = "window size"
    TEXT = "text"
    OPTIONAL_TEXT = "optional text"
    VARIABLE = "variable name"
    OPTIONAL_VARIABLE = "optional variable name"
    SCRIPT = "script"
    NUMBER = "number"
    OPTIONAL_NUMBER = "optional number"
    JSON = "json"
    TEST_NAME = "test name"


REQUIRED_ARGS = frozenset(
    {
        Arg.LOCATOR,
        Arg.OPTION,
        Arg.ATTRIBUTE_LOCATOR,
        Arg.FRAME,
        Arg.WINDOW,
        Arg.COORDINATES,
        Arg.WINDOW_SIZE,
        Arg.TEXT,
        Arg.VARIABLE,
        Arg.SCRIPT,
        Arg.NUMBER,
        Arg.JSON,
        Arg.TEST_NAME,
    }
)


@dataclass(frozen=True)
class Invocation:
    """One command as a handler sees it: target and value already interpolated."""

    name: str
    target: str
    value: str
    raw_target: str = ""
    fallbacks: tuple[str, ...] = ()


Handler = Callable[[RunContext, Invocation], "str | None"]


@dataclass(frozen=True)
class CommandSpec:
    """How to run and validate one command."""

    handler: Handler | None  # None for control flow, which the runner itself executes
    target: Arg = Arg.NONE
    value: Arg = Arg.NONE
    # Selenium IDE retries these until the implicit wait runs out.
    retried: bool = False
    keys: bool = field(default=False)  # the value may hold ${KEY_*}


# ---- helpers -------------------------------------------------------------------------------------


def element(ctx: RunContext, inv: Invocation) -> WebElement:
    """The element the command's target (or one of its fallback targets) points to."""
    return ctx.find(inv.target, inv.fallbacks)


def actions(ctx: RunContext) -> ActionChains:
    """A fresh action chain for the run's driver."""
    return ActionChains(ctx.driver)


def timeout_from(text: str, default_ms: int) -> float:
    """A wait time in ms given in a command argument, or the default."""
    if not str(text).strip():
        return default_ms
    try:
        return float(text)
    except ValueError:
        raise ScriptError(f"Wait time must be a number of milliseconds, got {text!r}") from None


def mismatch(actual: Any, expected: str) -> str:
    """Selenium IDE's wording for a failed comparison."""
    return f"Actual value '{js_string(actual)}' did not match '{expected}'"


def unexpected_match(actual: Any, expected: str) -> str:
    """Selenium IDE's wording for a failed negative comparison."""
    return f"Actual value '{js_string(actual)}' did match '{expected}'"


def is_editable(el: WebElement) -> bool:
    """Enabled and not read-only, as Selenium IDE defines editable."""
    return el.is_enabled() and el.get_attribute("readonly") is None


def selected_label(el: WebElement) -> str | None:
    """Text of the first selected option of a select element."""
    try:
        return Select(el).first_selected_option.text
    except NoSuchElementException:
        return None


# ---- navigation and windows ----------------------------------------------------------------------


def do_open(ctx: RunContext, inv: Invocation) -> None:
    url = urljoin(ctx.base_url, inv.target) if ctx.base_url else inv.target
    if not urlparse(url).scheme:
        raise ScriptError(f"Cannot open relative URL {inv.target!r} without a base URL")
    remaining = ctx.remaining_s()
    if remaining is not None:
        ctx.driver.set_page_load_timeout(max(1, remaining))
    ctx.driver.get(url)


def do_set_window_size(ctx: RunContext, inv: Invocation) -> None:
    width, height = parse_window_size(inv.target)
    ctx.driver.set_window_size(width, height)


def do_select_window(ctx: RunContext, inv: Invocation) -> None:
    ctx.driver.switch_to.window(parse_window_locator(inv.target))


def do_select_frame(ctx: RunContext, inv: Invocation) -> None:
    switch = ctx.driver.switch_to
    if inv.target == "relative=top":
        switch.default_content()
    elif inv.target == "relative=parent":
        switch.parent_frame()
    elif inv.target.startswith("index="):
        # A backslash-separated path of frame indexes; '..' goes up one level.
        for part in inv.target[len("index=") :].split("\\"):
            if part == "..":
                switch.parent_frame()
            elif part.strip().isdigit():
                ctx.retry(lambda index=int(part): switch.frame(index))
            else:
                raise ScriptError(f"Invalid frame index {part!r}")
    else:
        frame = element(ctx, inv)
        switch.frame(frame)


def do_close(ctx: RunContext, inv: Invocation) -> None:
    ctx.driver.close()


def do_store_window_handle(ctx: RunContext, inv: Invocation) -> None:
    ctx.variables[inv.target] = ctx.driver.current_window_handle


# ---- mouse ---------------------------------------------------------------------------------------


def do_click(ctx: RunContext, inv: Invocation) -> None:
    ctx.retry(lambda: element(ctx, inv).click())


def do_double_click(ctx: RunContext, inv: Invocation) -> None:
    actions(ctx).double_click(element(ctx, inv)).perform()


def set_checked(ctx: RunContext, inv: Invocation, checked: bool) -> None:
    """Click the checkbox only if its state differs, as Selenium IDE does."""

    def toggle() -> None:
        el = element(ctx, inv)
        if el.is_selected() != checked:
            el.click()

    ctx.retry(toggle)


def do_check(ctx: RunContext, inv: Invocation) -> None:
    set_checked(ctx, inv, True)


def do_uncheck(ctx: RunContext, inv: Invocation) -> None:
    set_checked(ctx, inv, False)


def do_mouse_down(ctx: RunContext, inv: Invocation) -> None:
    actions(ctx).move_to_element(element(ctx, inv)).click_and_hold().perform()


def do_mouse_up(ctx: RunContext, inv: Invocation) -> None:
    actions(ctx).move_to_element(element(ctx, inv)).release().perform()


def do_mouse_over(ctx: RunContext, inv: Invocation) -> None:
    actions(ctx).move_to_element(element(ctx, inv)).perform()


def do_mouse_out(ctx: RunContext, inv: Invocation) -> None:
    el = element(ctx, inv)
    rect, viewport = ctx.driver.execute_script(
        "return [arguments[0].getBoundingClientRect().toJSON(),"
        " {height: window.innerHeight, width: window.innerWidth}];",
        el,
    )
    # Move just outside the element on a side that still lies inside the viewport (as Selenium IDE).
    if rect["top"] > 0:
        offset = (0, -(rect["height"] / 2 + 1))
    elif viewport["width"] > rect["right"]:
        offset = (rect["width"] / 2 + 1, 0)
    elif viewport["height"] > rect["bottom"]:
        offset = (0, rect["height"] / 2 + 1)
    elif rect["left"] > 0:
        offset = (-(rect["width"] / 2 + 1), 0)
    else:
        raise StepFailure("Unable to perform mouse out as the element takes up the entire viewport")
    actions(ctx).move_to_element_with_offset(el, round(offset[0]), round(offset[1])).perform()


def at_element(ctx: RunContext, inv: Invocation) -> ActionChains:
    """An action chain with the pointer at `x,y` from the element's centre."""
    x, y = parse_coordinates(inv.value)
    return actions(ctx).move_to_element_with_offset(element(ctx, inv), x, y)


def do_click_at(ctx: RunContext, inv: Invocation) -> None:
    at_element(ctx, inv).click().perform()


def do_double_click_at(ctx: RunContext, inv: Invocation) -> None:
    at_element(ctx, inv).double_click().perform()


def do_mouse_down_at(ctx: RunContext, inv: Invocation) -> None:
    at_element(ctx, inv).click_and_hold().perform()


def do_mouse_up_at(ctx: RunContext, inv: Invocation) -> None:
    at_element(ctx, inv).release().perform()


def do_mouse_move_at(ctx: RunContext, inv: Invocation) -> None:
    at_element(ctx, inv).perform()


def do_drag_and_drop_to_object(ctx: RunContext, inv: Invocation) -> None:
    source = element(ctx, inv)
    destination = ctx.find(inv.value)
    actions(ctx).drag_and_drop(source, destination).perform()


# ---- input ---------------------------------------------------------------------------------------


def do_type(ctx: RunContext, inv: Invocation) -> None:
    def type_text() -> None:
        el = element(ctx, inv)
        # A file input takes a path to upload and cannot be cleared.
        if (el.get_attribute("type") or "").lower() != "file":
            el.clear()
        el.send_keys(inv.value)

    ctx.retry(type_text)


def do_send_keys(ctx: RunContext, inv: Invocation) -> None:
    ctx.retry(lambda: element(ctx, inv).send_keys(inv.value))


def do_edit_content(ctx: RunContext, inv: Invocation) -> None:
    editable = ctx.driver.execute_script(
        "if (arguments[0].isContentEditable) { arguments[0].innerText = arguments[1]; return true; } return false;",
        element(ctx, inv),
        inv.value,
    )
    if not editable:
        raise StepFailure("Unable to edit a non-content-editable element")


def find_option(ctx: RunContext, inv: Invocation) -> WebElement:
    """The option of the target select that the value's option locator names."""
    by, selector = parse_option_locator(inv.value)

    def option() -> WebElement:
        options = element(ctx, inv).find_elements(by, selector)
        if not options:
            raise NoSuchElementException(f"Option {inv.value} not found in {inv.target}")
        return options[0]

    return ctx.retry(option)


def do_select(ctx: RunContext, inv: Invocation) -> None:
    ctx.retry(lambda: find_option(ctx, inv).click())


def do_add_selection(ctx: RunContext, inv: Invocation) -> None:
    option = find_option(ctx, inv)
    if not option.is_selected():
        option.click()


def do_remove_selection(ctx: RunContext, inv: Invocation) -> None:
    option = find_option(ctx, inv)
    if option.is_selected():
        option.click()


def do_submit(ctx: RunContext, inv: Invocation) -> str:
    element(ctx, inv).submit()
    return "submit is deprecated: click the form's submit button instead"


# ---- waits ---------------------------------------------------------------------------------------


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


# ---- store ---------------------------------------------------------------------------------------


def do_store(ctx: RunContext, inv: Invocation) -> None:
    ctx.variables[inv.value] = inv.target


def do_store_text(ctx: RunContext, inv: Invocation) -> None:
    ctx.variables[inv.value] = element(ctx, inv).text


def do_store_value(ctx: RunContext, inv: Invocation) -> None:
    ctx.variables[inv.value] = element(ctx, inv).get_attribute("value")


def do_store_attribute(ctx: RunContext, inv: Invocation) -> None:
    locator, attribute = parse_attribute_locator(inv.target)
    ctx.variables[inv.value] = ctx.find(locator).get_attribute(attribute)


def do_store_element_count(ctx: RunContext, inv: Invocation) -> None:
    ctx.variables[inv.value] = len(ctx.find_all(inv.target))


def do_store_title(ctx: RunContext, inv: Invocation) -> None:
    # Selenium IDE takes the variable from the target; older projects put it in the value.
    ctx.variables[inv.target or inv.value] = ctx.driver.title


def do_store_json(ctx: RunContext, inv: Invocation) -> None:
    try:
        ctx.variables[inv.value] = json.loads(inv.target)
    except json.JSONDecodeError as error:
        raise ScriptError(f"Invalid JSON: {error}") from None


# ---- assertions (each also registered as verify*) ------------------------------------------------


def check_equal(actual: Any, expected: str) -> None:
    if js_string(actual) != expected:
        raise StepFailure(mismatch(actual, expected))


def check_not_equal(actual: Any, expected: str) -> None:
    if js_string(actual) == expected:
        raise StepFailure(unexpected_match(actual, expected))


def assert_variable(ctx: RunContext, inv: Invocation) -> None:
    actual = ctx.variables.get(inv.target, "undefined")
    check_equal(actual, inv.value)


def assert_text(ctx: RunContext, inv: Invocation) -> None:
    check_equal(element(ctx, inv).text, inv.value)


def assert_not_text(ctx: RunContext, inv: Invocation) -> None:
    check_not_equal(element(ctx, inv).text, inv.value)


def assert_value(ctx: RunContext, inv: Invocation) -> None:
    check_equal(element(ctx, inv).get_attribute("value"), inv.value)


def assert_not_value(ctx: RunContext, inv: Invocation) -> None:
    check_not_equal(element(ctx, inv).get_attribute("value"), inv.value)


def assert_title(ctx: RunContext, inv: Invocation) -> None:
    check_equal(ctx.driver.title, inv.target)


def assert_checked(ctx: RunContext, inv: Invocation) -> None:
    if not element(ctx, inv).is_selected():
        raise StepFailure("Element is not checked, expected to be checked")


def assert_not_checked(ctx: RunContext, inv: Invocation) -> None:
    if element(ctx, inv).is_selected():
        raise StepFailure("Element is checked, expected to be unchecked")


def assert_editable(ctx: RunContext, inv: Invocation) -> None:
    if not is_editable(element(ctx, inv)):
        raise StepFailure("Element is not editable")


def assert_not_editable(ctx: RunContext, inv: Invocation) -> None:
    if is_editable(element(ctx, inv)):
        raise StepFailure("Element is editable")


def assert_element_present(ctx: RunContext, inv: Invocation) -> None:
    element(ctx, inv)


def assert_element_not_present(ctx: RunContext, inv: Invocation) -> None:
    if ctx.find_all(inv.target):
        raise StepFailure("Unexpected element was found in page")


def assert_selected_value(ctx: RunContext, inv: Invocation) -> None:
    check_equal(element(ctx, inv).get_attribute("value"), inv.value)


def assert_not_selected_value(ctx: RunContext, inv: Invocation) -> None:
    check_not_equal(element(ctx, inv).get_attribute("value"), inv.value)


def assert_selected_label(ctx: RunContext, inv: Invocation) -> None:
    label = selected_label(element(ctx, inv))
    if label is None:
        raise StepFailure(f"No option selected, expected '{inv.value}'")
    check_equal(label, inv.value)


def assert_not_selected_label(ctx: RunContext, inv: Invocation) -> None:
    check_not_equal(selected_label(element(ctx, inv)), inv.value)


# ---- dialogs -------------------------------------------------------------------------------------
# Selenium IDE overrides alert/confirm/prompt in the page, so the command that opens a dialog is
# followed by assert*/accept*/dismiss*/answer*. Here the dialog really opens; it is answered by the
# dialog commands, or automatically (accept, or what an earlier accept/dismiss/answer armed) when
# another command runs into it. Its text is then kept for a later assertAlert/Confirmation/Prompt.


def dialog_text(ctx: RunContext, kind: str) -> tuple[str, bool]:
    """Text of the oldest auto-answered dialog or of the open one (and whether it is still open)."""

    def probe() -> tuple[str, bool] | None:
        if ctx.dialogs.unasserted_texts:
            return ctx.dialogs.unasserted_texts.popleft(), False
        text = ctx.open_alert_text()
        return (text, True) if text is not None else None

    return ctx.wait_until(probe, ctx.implicit_wait_ms, lambda: f"No {kind} was shown")


def check_dialog(ctx: RunContext, inv: Invocation, kind: str) -> bool:
    """Compare the dialog's text with the target; return whether the dialog is still open."""
    actual, still_open = dialog_text(ctx, kind)
    if actual != inv.target:
        if still_open and kind == "alert":
            ctx.driver.switch_to.alert.accept()
        raise StepFailure(f'Actual {kind} text "{actual}" did not match "{inv.target}"')
    return still_open


def assert_alert(ctx: RunContext, inv: Invocation) -> None:
    # An alert has only OK, and Selenium IDE records no accept after assertAlert.
    if check_dialog(ctx, inv, "alert"):
        ctx.driver.switch_to.alert.accept()


def assert_confirmation(ctx: RunContext, inv: Invocation) -> None:
    check_dialog(ctx, inv, "confirmation")


def assert_prompt(ctx: RunContext, inv: Invocation) -> None:
    check_dialog(ctx, inv, "prompt")


def answer_dialog(ctx: RunContext, accept: bool, answer: str | None = None) -> str | None:
    """Answer the open dialog, or arm the answer for the next one when none is open yet."""
    if ctx.open_alert_text() is None:
        ctx.dialogs.armed_accept, ctx.dialogs.armed_answer = accept, answer
        return "No dialog open: the answer applies to the next dialog"
    alert = ctx.driver.switch_to.alert
    if accept:
        if answer is not None:
            alert.send_keys(answer)
        alert.accept()
    else:
        alert.dismiss()
    return None


def do_accept_alert(ctx: RunContext, inv: Invocation) -> str | None:
    return answer_dialog(ctx, True)


def do_accept_confirmation(ctx: RunContext, inv: Invocation) -> str | None:
    return answer_dialog(ctx, True)


def do_dismiss_confirmation(ctx: RunContext, inv: Invocation) -> str | None:
    return answer_dialog(ctx, False)


def do_answer_prompt(ctx: RunContext, inv: Invocation) -> str | None:
    return answer_dialog(ctx, True, inv.target)


def do_dismiss_prompt(ctx: RunContext, inv: Invocation) -> str | None:
    return answer_dialog(ctx, False)


# ---- scripts -------------------------------------------------------------------------------------

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
    timeout_ms = max(ctx.implicit_wait_ms, MIN_ASYNC_SCRIPT_TIMEOUT_MS)
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


# ---- misc ----------------------------------------------------------------------------------------


def do_echo(ctx: RunContext, inv: Invocation) -> str:
    ctx.log.append(inv.target)
    return inv.target


def do_pause(ctx: RunContext, inv: Invocation) -> None:
    ctx.pause(timeout_from(inv.target or inv.value, 0))


def do_run(ctx: RunContext, inv: Invocation) -> None:
    if ctx.run_sub_test is None:
        raise ScriptError("'run' needs other tests of the project, and none were given")
    ctx.run_sub_test(inv.target)


def not_supported(ctx: RunContext, inv: Invocation) -> None:
    raise ScriptError(f"'{inv.name}' is not supported in this run mode")


# ---- the table -----------------------------------------------------------------------------------

L, T, V = Arg.LOCATOR, Arg.TEXT, Arg.VARIABLE

ACTIONS: dict[str, CommandSpec] = {
    "open": CommandSpec(do_open, T),
    "setWindowSize": CommandSpec(do_set_window_size, Arg.WINDOW_SIZE),
    "selectWindow": CommandSpec(do_select_window, Arg.WINDOW),
    "selectFrame": CommandSpec(do_select_frame, Arg.FRAME),
    "close": CommandSpec(do_close),
    "storeWindowHandle": CommandSpec(do_store_window_handle, V),
    "click": CommandSpec(do_click, L, retried=True),
    "doubleClick": CommandSpec(do_double_click, L),
    "check": CommandSpec(do_check, L, retried=True),
    "uncheck": CommandSpec(do_uncheck, L, retried=True),
    "mouseDown": CommandSpec(do_mouse_down, L),
    "mouseUp": CommandSpec(do_mouse_up, L),
    "mouseOver": CommandSpec(do_mouse_over, L),
    "mouseOut": CommandSpec(do_mouse_out, L),
    "clickAt": CommandSpec(do_click_at, L, Arg.COORDINATES),
    "doubleClickAt": CommandSpec(do_double_click_at, L, Arg.COORDINATES),
    "mouseDownAt": CommandSpec(do_mouse_down_at, L, Arg.COORDINATES),
    "mouseUpAt": CommandSpec(do_mouse_up_at, L, Arg.COORDINATES),
    "mouseMoveAt": CommandSpec(do_mouse_move_at, L, Arg.COORDINATES),
    "dragAndDropToObject": CommandSpec(do_drag_and_drop_to_object, L, L),
    "type": CommandSpec(do_type, L, Arg.OPTIONAL_TEXT, retried=True),
    "sendKeys": CommandSpec(do_send_keys, L, Arg.OPTIONAL_TEXT, retried=True, keys=True),
    "editContent": CommandSpec(do_edit_content, L, Arg.OPTIONAL_TEXT),
    "select": CommandSpec(do_select, L, Arg.OPTION, retried=True),
    "addSelection": CommandSpec(do_add_selection, L, Arg.OPTION),
    "removeSelection": CommandSpec(do_remove_selection, L, Arg.OPTION),
    "submit": CommandSpec(do_submit, L),
    "waitForElementPresent": CommandSpec(do_wait_for_element_present, L, Arg.OPTIONAL_NUMBER),
    "waitForElementNotPresent": CommandSpec(do_wait_for_element_not_present, L, Arg.OPTIONAL_NUMBER),
    "waitForElementVisible": CommandSpec(do_wait_for_element_visible, L, Arg.OPTIONAL_NUMBER),
    "waitForElementNotVisible": CommandSpec(do_wait_for_element_not_visible, L, Arg.OPTIONAL_NUMBER),
    "waitForElementEditable": CommandSpec(do_wait_for_element_editable, L, Arg.OPTIONAL_NUMBER),
    "waitForElementNotEditable": CommandSpec(do_wait_for_element_not_editable, L, Arg.OPTIONAL_NUMBER),
    "waitForText": CommandSpec(do_wait_for_text, L, Arg.OPTIONAL_TEXT),
    "store": CommandSpec(do_store, Arg.OPTIONAL_TEXT, V),
    "storeText": CommandSpec(do_store_text, L, V),
    "storeValue": CommandSpec(do_store_value, L, V),
    "storeAttribute": CommandSpec(do_store_attribute, Arg.ATTRIBUTE_LOCATOR, V),
    "storeElementCount": CommandSpec(do_store_element_count, L, V),
    "storeTitle": CommandSpec(do_store_title, Arg.OPTIONAL_TEXT, Arg.OPTIONAL_VARIABLE),
    "storeJson": CommandSpec(do_store_json, Arg.JSON, V),
    "acceptAlert": CommandSpec(do_accept_alert),
    "acceptConfirmation": CommandSpec(do_accept_confirmation),
    "dismissConfirmation": CommandSpec(do_dismiss_confirmation),
    "dismissPrompt": CommandSpec(do_dismiss_prompt),
    "answerPrompt": CommandSpec(do_answer_prompt, Arg.OPTIONAL_TEXT),
    "executeScript": CommandSpec(do_execute_script, Arg.SCRIPT, Arg.OPTIONAL_VARIABLE),
    "executeAsyncScript": CommandSpec(do_execute_async_script, Arg.SCRIPT, Arg.OPTIONAL_VARIABLE),
    "runScript": CommandSpec(do_run_script, Arg.SCRIPT),
    "echo": CommandSpec(do_echo, Arg.OPTIONAL_TEXT),
    "pause": CommandSpec(do_pause, Arg.OPTIONAL_NUMBER, Arg.OPTIONAL_NUMBER),
    "run": CommandSpec(do_run, Arg.TEST_NAME),
    "debugger": CommandSpec(not_supported),
    "setSpeed": CommandSpec(not_supported, Arg.OPTIONAL_NUMBER),
}

# name -> (check, target kind, value kind); each becomes assertX (hard) and verifyX (soft).
ASSERTIONS: dict[str, tuple[Handler, Arg, Arg]] = {
    "": (assert_variable, V, Arg.OPTIONAL_TEXT),
    "Text": (assert_text, L, Arg.OPTIONAL_TEXT),
    "NotText": (assert_not_text, L, Arg.OPTIONAL_TEXT),
    "Value": (assert_value, L, Arg.OPTIONAL_TEXT),
    "NotValue": (assert_not_value, L, Arg.OPTIONAL_TEXT),
    "Title": (assert_title, Arg.OPTIONAL_TEXT, Arg.NONE),
    "Checked": (assert_checked, L, Arg.NONE),
    "NotChecked": (assert_not_checked, L, Arg.NONE),
    "Editable": (assert_editable, L, Arg.NONE),
    "NotEditable": (assert_not_editable, L, Arg.NONE),
    "ElementPresent": (assert_element_present, L, Arg.NONE),
    "ElementNotPresent": (assert_element_not_present, L, Arg.NONE),
    "SelectedValue": (assert_selected_value, L, Arg.OPTIONAL_TEXT),
    "NotSelectedValue": (assert_not_selected_value, L, Arg.OPTIONAL_TEXT),
    "SelectedLabel": (assert_selected_label, L, Arg.OPTIONAL_TEXT),
    "NotSelectedLabel": (assert_not_selected_label, L, Arg.OPTIONAL_TEXT),
    "Alert": (assert_alert, Arg.OPTIONAL_TEXT, Arg.NONE),
    "Confirmation": (assert_confirmation, Arg.OPTIONAL_TEXT, Arg.NONE),
    "Prompt": (assert_prompt, Arg.OPTIONAL_TEXT, Arg.NONE),
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


# Control flow is executed by the runner; entries here carry the argument kinds for validation.
CONTROL_FLOW: dict[str, CommandSpec] = {
    "if": CommandSpec(None, Arg.SCRIPT),
    "elseIf": CommandSpec(None, Arg.SCRIPT),
    "else": CommandSpec(None),
    "end": CommandSpec(None),
    "while": CommandSpec(None, Arg.SCRIPT, Arg.OPTIONAL_NUMBER),
    "times": CommandSpec(None, Arg.TEXT, Arg.OPTIONAL_NUMBER),
    "do": CommandSpec(None),
    "repeatIf": CommandSpec(None, Arg.SCRIPT, Arg.OPTIONAL_NUMBER),
    "forEach": CommandSpec(None, V, V),
}


def build_command_table() -> dict[str, CommandSpec]:
    """Every supported command: actions, assert*/verify* pairs and control flow."""
    table = dict(ACTIONS)
    for suffix, (check, target, value) in ASSERTIONS.items():
        table["assert" + suffix] = CommandSpec(check, target, value)
        table["verify" + suffix] = CommandSpec(soft(check), target, value)
    table.update(CONTROL_FLOW)
    return table


COMMANDS: dict[str, CommandSpec] = build_command_table()
SUPPORTED_COMMANDS: frozenset[str] = frozenset(COMMANDS)
