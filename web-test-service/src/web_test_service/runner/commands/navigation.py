"""Navigation commands: open a URL, and move between windows and frames."""

from __future__ import annotations

from urllib.parse import urljoin, urlparse

from web_test_service.runner.commands.spec import Arg, CommandSpec, Invocation, element
from web_test_service.runner.context import RunContext
from web_test_service.runner.errors import ScriptError
from web_test_service.runner.locators import parse_window_locator, parse_window_size
from web_test_service.runner.policy import check_open_url


def do_open(ctx: RunContext, inv: Invocation) -> None:
    url = urljoin(ctx.base_url, inv.target) if ctx.base_url else inv.target
    if not urlparse(url).scheme:
        raise ScriptError(f"Cannot open relative URL {inv.target!r} without a base URL")
    # Chromium opens file:, data:, chrome: ... when WebDriver asks (it refuses them only to pages).
    check_open_url(url)
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
            elif part.strip().isdecimal():
                index = int(part)
                ctx.retry(lambda: switch.frame(index))  # noqa: B023 (called at once, inside the loop)
            else:
                raise ScriptError(f"Invalid frame index {part!r}")
    else:
        frame = element(ctx, inv)
        switch.frame(frame)


def do_close(ctx: RunContext, inv: Invocation) -> None:
    ctx.driver.close()


def do_store_window_handle(ctx: RunContext, inv: Invocation) -> None:
    ctx.variables[inv.target] = ctx.driver.current_window_handle


ACTIONS: dict[str, CommandSpec] = {
    "open": CommandSpec(do_open, Arg.TEXT),
    "setWindowSize": CommandSpec(do_set_window_size, Arg.WINDOW_SIZE),
    "selectWindow": CommandSpec(do_select_window, Arg.WINDOW),
    "selectFrame": CommandSpec(do_select_frame, Arg.FRAME),
    "close": CommandSpec(do_close),
    "storeWindowHandle": CommandSpec(do_store_window_handle, Arg.VARIABLE),
}
