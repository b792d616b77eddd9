"""Input commands: typing, keys, content editing, checkboxes, select options and form submission."""

from __future__ import annotations

import os

from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.remote.webelement import WebElement

from web_test_service.runner.commands.spec import Arg, CommandSpec, Invocation, element
from web_test_service.runner.context import RunContext
from web_test_service.runner.errors import ScriptError, StepFailure
from web_test_service.runner.locators import parse_option_locator


def is_editable(el: WebElement) -> bool:
    """Enabled and not read-only, as Selenium IDE defines editable."""
    return el.is_enabled() and el.get_attribute("readonly") is None


UPLOAD_REFUSED = "File uploads are refused: a file input would hand the page any file of the worker's"


def refuse_uploads(el: WebElement, keys: str) -> None:
    """Refuse keys for a file input, or keys naming an existing absolute path (chromedriver uploads those).

    Chromium reads the file for the page, which can show it: /etc/passwd, the worker's database,
    /proc/<worker>/environ. The path check holds even if the page turns an input into a file input
    between the type check and the keys.
    """
    if (el.get_attribute("type") or "").lower() == "file":
        raise ScriptError(UPLOAD_REFUSED)
    if any(os.path.isabs(line) and os.path.exists(line) for line in keys.splitlines()):
        raise ScriptError(f"{UPLOAD_REFUSED} (the text names a file on the worker)")


def do_type(ctx: RunContext, inv: Invocation) -> None:
    def type_text() -> None:
        el = element(ctx, inv)
        refuse_uploads(el, inv.value)
        el.clear()
        el.send_keys(inv.value)

    ctx.retry(type_text)


def do_send_keys(ctx: RunContext, inv: Invocation) -> None:
    def send_keys() -> None:
        el = element(ctx, inv)
        refuse_uploads(el, inv.value)
        el.send_keys(inv.value)

    ctx.retry(send_keys)


def do_edit_content(ctx: RunContext, inv: Invocation) -> None:
    editable = ctx.driver.execute_script(
        "if (arguments[0].isContentEditable) { arguments[0].innerText = arguments[1]; return true; } return false;",
        element(ctx, inv),
        inv.value,
    )
    if not editable:
        raise StepFailure("Unable to edit a non-content-editable element")


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


L = Arg.LOCATOR

ACTIONS: dict[str, CommandSpec] = {
    "type": CommandSpec(do_type, L, Arg.OPTIONAL_TEXT),
    "sendKeys": CommandSpec(do_send_keys, L, Arg.OPTIONAL_TEXT, keys=True),
    "editContent": CommandSpec(do_edit_content, L, Arg.OPTIONAL_TEXT),
    "check": CommandSpec(do_check, L),
    "uncheck": CommandSpec(do_uncheck, L),
    "select": CommandSpec(do_select, L, Arg.OPTION),
    "addSelection": CommandSpec(do_add_selection, L, Arg.OPTION),
    "removeSelection": CommandSpec(do_remove_selection, L, Arg.OPTION),
    "submit": CommandSpec(do_submit, L),
}
