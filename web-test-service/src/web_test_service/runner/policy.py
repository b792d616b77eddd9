"""The web target policy in a run: which URLs the runner may open, and how a refused request ends the step."""

# Who enforces what:
# - every request of the page goes through the run's filtering proxy (proxy.py), judged by WEB_ALLOWED_HOSTS;
# - Chromium refuses to let a page load file:, view-source: or chrome: URLs or navigate its top frame to data:
#   (tests/runner/test_policy_browser.py proves it); it says so in the console, which PolicyGuard reads;
# - a redirect to such a URL is refused by the proxy when it sees it (plain http); inside an https tunnel it
#   cannot, and Chromium refuses to follow it (net::ERR_UNSAFE_REDIRECT) without a console message: PolicyGuard
#   reads that from chromedriver's performance log (network events; the driver enables it, see driver.py);
# - when that happens in a popup before chromedriver attached to it, neither log hears of it: the guard asks each
#   window the step opened whether its load failed (popups.py) and refuses one the proxy saw no failure of;
# - WebDriver's own navigation is not the page's: Chromium opens file:///etc/passwd when chromedriver asks, so
#   check_open_url() refuses every scheme but http(s) and about:blank before `open` asks;
# - literal targets are checked at save time too (literal_target_problem, used by validation.py).

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from selenium.common.exceptions import WebDriverException

from shared.host_policy import HostNotAllowed, HostPolicy, as_address, normalise_host, parse_target
from web_test_service.runner.errors import ScriptError
from web_test_service.runner.popups import PopupInspector

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
# How Chromium fails a load it was redirected to a non-network URL from (file:, data:, chrome: ...).
UNSAFE_REDIRECT = "net::ERR_UNSAFE_REDIRECT"
# A popup left on Chromium's error page that the proxy saw neither refused nor unreachable: Chromium refused
# its navigation itself, as it does a redirect to a non-network URL inside an https tunnel (the target unseen).
POPUP_REFUSED = (
    f"{BLOCKED}: a popup's navigation was refused by Chromium (as a redirect to a non-network URL is): "
    "only http(s) targets may be reached"
)
# A window that appeared during a step and is still loading is given up to POPUP_SETTLE_S to end its load, so
# that a refusal of that load ends the step that opened it: a popup's request leaves after the click returned.
# chromedriver hears of a window only once asked (new_windows); one it has heard nothing of after POPUP_QUIET_S
# had ended its load before that.
POPUP_SETTLE_S = 2.0
POPUP_QUIET_S = 0.3
POPUP_POLL_S = 0.02
# What the run keeps of a browser console entry; chromedriver's `source` says where it came from:
# console-api (the page's console.*), javascript (an uncaught error), network (a failed load), ...
CONSOLE_FIELDS = ("level", "message", "source", "timestamp")
LOAD_EVENTS = {
    "Page.frameStartedNavigating": True,
    "Network.requestWillBeSent": True,
    "Network.loadingFinished": False,
    "Network.loadingFailed": False,
    "Page.loadEventFired": False,
}


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


def redirect_refusal(scheme: str | None) -> str:
    """The message of a redirect Chromium refused to follow: the policy and the scheme, never the URL."""
    target = f"a redirect to {url_of(scheme)}" if scheme else "a redirect to a non-network URL"
    return f"{BLOCKED}: {target}: only http(s) targets may be reached (Chromium refused to follow it)"


def unsafe_redirects(entries: list[dict[str, Any]]) -> list[str | None]:
    """The schemes (None if unseen) of the redirects Chromium refused to follow, from performance log entries."""
    if not any(UNSAFE_REDIRECT in str(entry.get("message")) for entry in entries):
        return []  # the usual case: nothing is parsed
    locations: dict[str, str] = {}
    failed: list[str] = []
    for entry in entries:
        try:
            event = json.loads(entry["message"])["message"]
            method, params = event["method"], event["params"]
        except (KeyError, TypeError, ValueError):
            continue
        if method == "Network.responseReceivedExtraInfo":  # the raw response, the refused Location included
            headers = {str(name).lower(): value for name, value in (params.get("headers") or {}).items()}
            if headers.get("location"):
                locations[params.get("requestId")] = str(headers["location"])
        elif method == "Network.loadingFailed" and params.get("errorText") == UNSAFE_REDIRECT:
            failed.append(params.get("requestId"))
    return [scheme_of(locations.get(request, "")) for request in failed]


def track_loads(entries: list[dict[str, Any]], loading: dict[str, bool], heard: set[str]) -> None:
    """Note which of the windows in loading (chromedriver's handles are DevTools target ids) were heard of in
    these performance log entries, and whether each is still loading by the last of its load events."""
    for entry in entries:
        text = str(entry.get("message"))
        if not any(window in text for window in loading):
            continue
        try:
            record = json.loads(text)
        except ValueError:
            continue
        window = record.get("webview")
        if window in loading:
            heard.add(window)
            method = str((record.get("message") or {}).get("method"))
            loading[window] = LOAD_EVENTS.get(method, loading[window])


def endpoint_of(url: str) -> str | None:
    """host:port of an http(s) URL, written as the proxy writes the targets it could not reach; else None."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None
    if not host or not port:
        return None
    host = normalise_host(host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def scheme_of(url: str) -> str | None:
    try:
        return urlsplit(url.strip()).scheme.lower() or None
    except ValueError:
        return None


class PolicyGuard:
    """What the proxy and Chromium refused since the last look, as the PolicyViolation of the step that caused it.

    The browser's console is read after every step (a page's refused file: frame is only logged there), so the
    guard also keeps the run's console log for the result; so is the performance log (an unsafe redirect is
    only there), which is not kept.
    """

    def __init__(self, driver: Any, browser: Any) -> None:
        self.driver = driver
        self._refusals: Callable[[], list] | None = getattr(browser, "take_refusals", None)
        self._unreachable: Callable[[], list] | None = getattr(browser, "take_unreachable", None)
        self.console_log: list[dict[str, Any]] = []
        self._windows: set[str] | None = None
        self._inspector = PopupInspector.of(driver)
        self._unreached: list[Any] = []  # what the proxy could not reach, until explain() or start() takes it

    def start(self) -> None:
        """Forget what happened before the run (a reused session's console, the browser's start-up)."""
        self._windows = None
        self.new_windows()
        self.drain_console()
        self.drain_network()
        self.console_log = []
        for take in (self._refusals, self._unreachable):
            if take is not None:
                take()
        self._unreached = []

    def drain_console(self) -> list[dict[str, Any]]:
        """Fetch (and so clear) the browser console log into console_log as CONSOLE_FIELDS; a grid without the
        endpoint gives []."""
        try:
            entries = [{key: entry.get(key) for key in CONSOLE_FIELDS} for entry in self.driver.get_log("browser")]
        except Exception:  # the console log is evidence, not a reason to fail the run
            return []
        self.console_log.extend(entries)
        return entries

    def drain_network(self) -> list[dict[str, Any]]:
        """Fetch (and so clear) the performance log; a browser or grid without it gives []."""
        try:
            return list(self.driver.get_log("performance"))
        except Exception:  # evidence too, not a reason to fail the run
            return []

    def new_windows(self) -> set[str]:
        """The windows that appeared since the last look. Looking also makes chromedriver take in their console
        and network events (it does so only when it looks at the windows): one round trip, under 1 ms."""
        try:
            handles = set(self.driver.window_handles)
        except Exception:  # a closed or crashed browser has nothing more to say
            return set()
        new = handles - self._windows if self._windows is not None else set()
        self._windows = handles
        return new

    def violation(self) -> PolicyViolation | None:
        """The first refusal since the last call (the others are in the worker's log and the console).

        A window the step opened that is still loading is waited for (up to POPUP_SETTLE_S) until its load
        ends or is refused; then the windows it opened are asked how their loads ended (failed_popup).
        """
        new = self.new_windows()
        loading = dict.fromkeys(new, True)  # until its events say otherwise
        heard: set[str] = set()
        begun = time.monotonic()
        while True:
            messages, network = self.refusal_messages()
            track_loads(network, loading, heard)
            waited = time.monotonic() - begun
            busy = [window for window, on in loading.items() if on and (window in heard or waited < POPUP_QUIET_S)]
            if messages:
                return PolicyViolation(messages[0])
            if not busy or waited >= POPUP_SETTLE_S:
                return self.failed_popup(new)
            time.sleep(POPUP_POLL_S)

    def failed_popup(self, windows: set[str]) -> PolicyViolation | None:
        """POPUP_REFUSED if one of these new windows failed its load and the proxy saw no refusal of it nor failed
        to reach it. Only a step that opened a window asks (a few ms a window); a browser without DevTools does
        not."""
        if not windows or self._inspector is None:
            return None
        failed = self._inspector.failed_loads(windows)
        if not failed:
            return None
        messages, _ = self.refusal_messages()  # the proxy's refusal of the popup names its target
        if messages:
            return PolicyViolation(messages[0])
        unreached = self.unreached()
        for url in failed.values():
            endpoint = endpoint_of(url)
            if endpoint is None or not any(record.names(endpoint) for record in unreached):
                return PolicyViolation(POPUP_REFUSED)
        return None  # an allowed target that did not answer: a network failure, not the policy's

    def unreached(self) -> list[Any]:
        """The last few targets the proxy could not reach since start() or explain() took them."""
        if self._unreachable is not None:
            self._unreached = [*self._unreached, *self._unreachable()][-10:]
        return self._unreached

    def refusal_messages(self) -> tuple[list[str], list[dict[str, Any]]]:
        """What the proxy, the console and the network log say was refused since the last look; that log."""
        messages = [refusal.message for refusal in self._refusals()] if self._refusals else []
        for entry in self.drain_console():
            found = CHROMIUM_REFUSAL.search(str(entry.get("message") or ""))
            if found:
                scheme = (found.group("scheme") or found.group("data")).lower()
                messages.append(f"{BLOCKED}: {url_of(scheme)}: Chromium refused to load it for the page")
        network = self.drain_network()
        return messages + [redirect_refusal(scheme) for scheme in unsafe_redirects(network)], network

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
        unreachable, self._unreached = self.unreached(), []
        if unreachable and isinstance(error, WebDriverException) and any(code in str(error) for code in RESET_ERRORS):
            return ScriptError(f"Cannot reach {unreachable[-1].target}: {unreachable[-1].reason}")
        return error
