"""Store commands: put text, values, attributes, counts, the title or JSON into variables, and echo them."""

from __future__ import annotations

import json

from web_test_service.runner.commands.spec import Arg, CommandSpec, Invocation, element
from web_test_service.runner.context import RunContext
from web_test_service.runner.errors import ScriptError
from web_test_service.runner.locators import parse_attribute_locator


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


def do_echo(ctx: RunContext, inv: Invocation) -> str:
    ctx.log.append(inv.target)
    return inv.target


L, V = Arg.LOCATOR, Arg.VARIABLE

ACTIONS: dict[str, CommandSpec] = {
    "store": CommandSpec(do_store, Arg.OPTIONAL_TEXT, V),
    "storeText": CommandSpec(do_store_text, L, V),
    "storeValue": CommandSpec(do_store_value, L, V),
    "storeAttribute": CommandSpec(do_store_attribute, Arg.ATTRIBUTE_LOCATOR, V),
    "storeElementCount": CommandSpec(do_store_element_count, L, V),
    "storeTitle": CommandSpec(do_store_title, Arg.OPTIONAL_TEXT, Arg.OPTIONAL_VARIABLE),
    "storeJson": CommandSpec(do_store_json, Arg.JSON, V),
    "echo": CommandSpec(do_echo, Arg.OPTIONAL_TEXT),
}
