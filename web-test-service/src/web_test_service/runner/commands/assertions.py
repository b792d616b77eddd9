"""Assertions on variables, text, values, the title, checkboxes, editability, presence and selections."""

from __future__ import annotations

from typing import Any

from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select

from web_test_service.runner.commands.input import is_editable
from web_test_service.runner.commands.spec import Arg, Handler, Invocation, element
from web_test_service.runner.context import RunContext
from web_test_service.runner.errors import StepFailure
from web_test_service.runner.variables import js_string


def mismatch(actual: Any, expected: str) -> str:
    """Selenium IDE's wording for a failed comparison."""
    return f"Actual value '{js_string(actual)}' did not match '{expected}'"


def unexpected_match(actual: Any, expected: str) -> str:
    """Selenium IDE's wording for a failed negative comparison."""
    return f"Actual value '{js_string(actual)}' did match '{expected}'"


def check_equal(actual: Any, expected: str) -> None:
    if js_string(actual) != expected:
        raise StepFailure(mismatch(actual, expected))


def check_not_equal(actual: Any, expected: str) -> None:
    if js_string(actual) == expected:
        raise StepFailure(unexpected_match(actual, expected))


def selected_label(el: WebElement) -> str | None:
    """Text of the first selected option of a select element."""
    try:
        return Select(el).first_selected_option.text
    except NoSuchElementException:
        return None


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


L, TEXT = Arg.LOCATOR, Arg.OPTIONAL_TEXT

# suffix -> (check, target kind, value kind); the table registers each as assertX (hard) and verifyX (soft).
ASSERTIONS: dict[str, tuple[Handler, Arg, Arg]] = {
    "": (assert_variable, Arg.VARIABLE, TEXT),
    "Text": (assert_text, L, TEXT),
    "NotText": (assert_not_text, L, TEXT),
    "Value": (assert_value, L, TEXT),
    "NotValue": (assert_not_value, L, TEXT),
    "Title": (assert_title, TEXT, Arg.NONE),
    "Checked": (assert_checked, L, Arg.NONE),
    "NotChecked": (assert_not_checked, L, Arg.NONE),
    "Editable": (assert_editable, L, Arg.NONE),
    "NotEditable": (assert_not_editable, L, Arg.NONE),
    "ElementPresent": (assert_element_present, L, Arg.NONE),
    "ElementNotPresent": (assert_element_not_present, L, Arg.NONE),
    "SelectedValue": (assert_selected_value, L, TEXT),
    "NotSelectedValue": (assert_not_selected_value, L, TEXT),
    "SelectedLabel": (assert_selected_label, L, TEXT),
    "NotSelectedLabel": (assert_not_selected_label, L, TEXT),
}
