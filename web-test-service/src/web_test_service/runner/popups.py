"""Which of a step's new windows failed their load: read over DevTools, without switching chromedriver to them."""

# Chromium refuses a redirect to a non-network URL (file:, data:, chrome: ...) inside an https tunnel, which the
# proxy cannot see; if that happened in a popup before chromedriver attached to it, nothing reaches the console
# or the performance log. The window is left on Chromium's error page, whose frame names the URL that could not
# be loaded (Page.getFrameTree: url chrome-error://chromewebdata/, unreachableUrl). Target.getTargets cannot
# tell: it gives that window the failed URL, as it would a loaded page. Switching chromedriver to the window
# would lose the script's selected frame, so the window is asked directly, on its own DevTools connection:
# - a Grid session names the browser's endpoint through the Grid (se:cdp), where the window is attached to (its
#   debuggerAddress is on the node, not here);
# - a local chromedriver names Chromium's DevTools address (goog:chromeOptions.debuggerAddress); each window
#   (chromedriver's handle is its target id) has an endpoint of its own there.
# A driver with neither is not asked (the window is then judged by its events alone).

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

import websocket

log = logging.getLogger(__name__)

ERROR_PAGE = "chrome-error://chromewebdata/"
# Each DevTools exchange (the connection, then each answer) is given up to this long.
DEVTOOLS_TIMEOUT_S = 2.0


class DevToolsError(Exception):
    """The window could not be asked (gone, the endpoint refused or did not answer in time)."""


class PopupInspector:
    """Asks windows by handle whether their last load failed, on one short DevTools connection each."""

    def __init__(self, page_endpoint: str | None = None, browser_endpoint: str | None = None) -> None:
        self.page_endpoint = page_endpoint  # with {handle}: that window's own endpoint
        self.browser_endpoint = browser_endpoint  # the browser's: windows are attached to by target id

    @classmethod
    def of(cls, driver: Any) -> PopupInspector | None:
        """The inspector for driver's browser, or None when it exposes no DevTools endpoint."""
        try:
            capabilities = dict(getattr(driver, "capabilities", None) or {})
        except Exception:  # a fake or broken driver: nothing to ask
            return None
        endpoint = capabilities.get("se:cdp")  # a Grid's session: its debuggerAddress is the node's localhost
        if isinstance(endpoint, str) and endpoint.startswith(("ws://", "wss://")):
            return cls(browser_endpoint=endpoint)
        address = (capabilities.get("goog:chromeOptions") or {}).get("debuggerAddress")
        if isinstance(address, str) and address:
            return cls(page_endpoint=f"ws://{address}/devtools/page/{{handle}}")
        return None

    def failed_loads(self, handles: Iterable[str]) -> dict[str, str]:
        """The URL each window in handles could not load, by handle; one that loaded (or cannot be asked) is not
        in it."""
        failed: dict[str, str] = {}
        for handle in handles:
            try:
                frame = self.main_frame(handle)
            except DevToolsError as error:
                log.debug("window %s not asked how its load ended: %s", handle, error)
                continue
            if str(frame.get("url", "")).startswith(ERROR_PAGE) or frame.get("unreachableUrl"):
                failed[handle] = str(frame.get("unreachableUrl") or "")
        return failed

    def main_frame(self, handle: str) -> dict[str, Any]:
        """The window's main frame as Page.getFrameTree gives it."""
        if self.page_endpoint is not None:
            with Connection(self.page_endpoint.format(handle=handle)) as connection:
                tree = connection.ask("Page.getFrameTree")
        elif self.browser_endpoint is not None:
            with Connection(self.browser_endpoint) as connection:
                attached = connection.ask("Target.attachToTarget", {"targetId": handle, "flatten": True})
                session = str(attached.get("sessionId") or "")
                tree = connection.ask("Page.getFrameTree", session=session)
                connection.ask("Target.detachFromTarget", {"sessionId": session})
        else:
            raise DevToolsError("no DevTools endpoint")
        frame = (tree.get("frameTree") or {}).get("frame")
        if not isinstance(frame, dict):
            raise DevToolsError("no frame tree")
        return frame


class Connection:
    """One DevTools WebSocket connection: commands answered in turn, events skipped, every wait bounded."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.socket: Any = None
        self.last_id = 0

    def __enter__(self) -> Connection:
        try:
            # No Origin header: Chromium refuses DevTools connections from origins it was not told to allow.
            self.socket = websocket.create_connection(self.url, timeout=DEVTOOLS_TIMEOUT_S, suppress_origin=True)
        except (OSError, websocket.WebSocketException) as error:
            raise DevToolsError(f"cannot connect: {error}") from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        with suppress(OSError, websocket.WebSocketException):
            self.socket.close()

    def ask(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """The result of one command, waited for up to DEVTOOLS_TIMEOUT_S."""
        self.last_id += 1
        deadline = time.monotonic() + DEVTOOLS_TIMEOUT_S
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            self.socket.send(json.dumps(message))
            while (left := deadline - time.monotonic()) > 0:  # events of the session may come first
                self.socket.settimeout(left)
                answer = json.loads(self.socket.recv())
                if answer.get("id") == self.last_id:
                    if "error" in answer:
                        raise DevToolsError(f"{method}: {answer['error'].get('message')}")
                    return dict(answer.get("result") or {})
        except (OSError, ValueError, AttributeError, websocket.WebSocketException) as error:
            raise DevToolsError(f"{method}: {error}") from None
        raise DevToolsError(f"{method}: no answer in {DEVTOOLS_TIMEOUT_S} s")
