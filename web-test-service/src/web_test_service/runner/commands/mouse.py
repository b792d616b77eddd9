"""Mouse commands: clicks, presses, hovering, pointer moves at an offset, drag and drop."""

from __future__ import annotations

from selenium.webdriver.common.action_chains import ActionChains

from web_test_service.runner.commands.spec import Arg, CommandSpec, Invocation, element
from web_test_service.runner.context import RunContext
from web_test_service.runner.errors import StepFailure
from web_test_service.runner.locators import parse_coordinates


def actions(ctx: RunContext) -> ActionChains:
    """A fresh action chain for the run's driver."""
    return ActionChains(ctx.driver)


def do_click(ctx: RunContext, inv: Invocation) -> None:
    ctx.retry(lambda: element(ctx, inv).click())


def do_double_click(ctx: RunContext, inv: Invocation) -> None:
    actions(ctx).double_click(element(ctx, inv)).perform()


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


L = Arg.LOCATOR

ACTIONS: dict[str, CommandSpec] = {
    "click": CommandSpec(do_click, L),
    "doubleClick": CommandSpec(do_double_click, L),
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
}
