"""The web target policy in a run: which URLs the runner may open, and how a refused request ends the step."""

# Who enforces what:
# - every request of the page goes through the run's filtering proxy (proxy.py), judged by WEB_ALLOWED_HOSTS;
# - Chromium refuses to let a page load file:, view-source: or chrome: URLs or navigate its top frame to data:
#   (tests/runner/test_policy_browser.py proves it); it says so in the console, which PolicyGuard reads;
# - WebDriver's own navigation is not the page's: Chromium opens file:///etc/passwd when chromedriver asks, so
#   check_open_url() refuses every scheme but http(s) and about:blank before `open` asks;
# - literal targets are checked at save time too (literal_target_problem, used by validation.py).

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

from selenium.common.exceptions import WebDriverException

from shared.host_policy import HostNotAllowed, HostPolicy, as_address, parse_target
from web_test_service.runner.errors import ScriptError

SETTING = "WEB_ALLOWED_HOSTS"
BLOCKED = f"Blocked by {SETTING}"
OPENABLE_SCHEMES = frozenset({"http", "https"})
# What Chromium logs when it refuses a page's load or navigation (the URL follows; it is not kept).
CHROMIUM_REFUSAL = re.compile(
    r"Not allowed to (?:load local resource: (?P<scheme>[a-z][a-z0-9+.-]*):|navigate top frame to (?P<data>data) URL)",
    re.IGNORECASE,
)
# How Chromium reports the reset the proxy answers an unreachable target with (proxy.py, _Handler.reset).
RESET_ERRORS = ("ERR_CONNECTION_RESET", "ERR_TUNNEL_CONNECTION_FAILED", "ERR_EMPTY_RESPONSE")


class PolicyViolation(ScriptError):
    """A target the policy refuses: the step and the run end in error, the message naming the policy."""


def url_of(scheme: str) -> str:
    """'a file: URL', 'an about: URL': how messages name a URL by its scheme alone (never its path)."""
    return f"{'an' if scheme[:1] in 'aeiou' else 'a'} {scheme}: URL"


def scheme_problem(url: str) -> str | None:
    """Why the runner may not open url (a non-network scheme), or None."""
    text = url.strip()
    if text.lower() == "about:blank":
        return None
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return f"{BLOCKED}: the URL cannot be read"
    if scheme in OPENABLE_SCHEMES:
        return None
    return f"{BLOCKED}: {url_of(scheme)}: only http(s) URLs (and about:blank) may be opened"


def check_open_url(url: str) -> None:
    """Refuse a URL the runner itself would navigate to, unless it is http(s) or about:blank."""
    problem = scheme_problem(url)
    if problem:
        raise PolicyViolation(problem)


def literal_target_problem(target: str, policy: HostPolicy | None) -> str | None:
    """Why a literal `open` target is refused at save time, or None (names are resolved only at run time)."""
    text = target.strip()
    if "${" in text or ("://" not in text and ":" not in text.split("/", 1)[0]):
        return None  # a variable, or a path relative to the base URL: judged when the run knows it
    problem = scheme_problem(text)
    if problem or policy is None or text.lower() == "about:blank":
        return problem
    try:
        found = parse_target(text)
        if as_address(found.host) is not None:
            policy.check(found.host, found.port)
        else:
            policy.check_name(found.host)
    except HostNotAllowed as refused:
        return f"{BLOCKED}: {refused}"
    return None


class PolicyGuard:
    """What the proxy and Chromium refused since the last look, as the PolicyViolation of the step that caused it.

    The browser's console is read after every step (a page's refused file: frame is only logged there), so the
    guard also keeps the run's console log for the result.
    """

    def __init__(self, driver: Any, browser: Any) -> None:
        self.driver = driver
        self._refusals: Callable[[], list] | None = getattr(browser, "take_refusals", None)
        self._unreachable: Callable[[], list] | None = getattr(browser, "take_unreachable", None)
        self.console_log: list[dict[str, Any]] = []

    def start(self) -> None:
        """Forget what happened before the run (a reused session's console, the browser's start-up)."""
        self.drain_console()
        self.console_log = []
        for take in (self._refusals, self._unreachable):
            if take is not None:
                take()

    def drain_console(self) -> list[dict[str, Any]]:
        """Fetch (and so clear) the browser console log into console_log; grids without the endpoint give []."""
        try:
            entries = [
                {"level": entry.get("level"), "message": entry.get("message"), "timestamp": entry.get("timestamp")}
                for entry in self.driver.get_log("browser")
            ]
        except Exception:  # the console log is evidence, not a reason to fail the run
            return []
        self.console_log.extend(entries)
        return entries

    def violation(self, *, flush: bool = False) -> PolicyViolation | None:
        """The first refusal since the last call (the others are in the worker's log and the console).

        chromedriver takes in a popup's console messages only when it next looks at the windows: flush does,
        at the cost of a round trip (so only once, after the last step).
        """
        if flush:
            with suppress(Exception):  # a closed or crashed browser has nothing more to say
                _ = self.driver.window_handles
        messages = [refusal.message for refusal in self._refusals()] if self._refusals else []
        for entry in self.drain_console():
            found = CHROMIUM_REFUSAL.search(str(entry.get("message") or ""))
            if found:
                scheme = (found.group("scheme") or found.group("data")).lower()
                messages.append(f"{BLOCKED}: {url_of(scheme)}: Chromium refused to load it for the page")
        return PolicyViolation(messages[0]) if messages else None

    def check(self) -> None:
        """Raise the step's PolicyViolation if something was refused while it ran."""
        found = self.violation()
        if found is not None:
            raise found

    def explain(self, error: Exception) -> Exception:
        """What a failed step's error really was: a refusal first, then an unreachable target, else itself."""
        found = self.violation()
        if found is not None:
            return found
        unreachable = self._unreachable() if self._unreachable else []
        if unreachable and isinstance(error, WebDriverException) and any(code in str(error) for code in RESET_ERRORS):
            return ScriptError(f"Cannot reach {unreachable[-1].target}: {unreachable[-1].reason}")
        return error
