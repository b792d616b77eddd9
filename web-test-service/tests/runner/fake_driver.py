"""In-memory stand-in for selenium's WebDriver and WebElement: runs the engine in milliseconds, no browser."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

from selenium.common.exceptions import (
    InvalidSelectorException,
    JavascriptException,
    NoAlertPresentException,
    NoSuchFrameException,
    NoSuchWindowException,
    UnexpectedAlertPresentException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

PNG = b"\x89PNG\r\n\x1a\nfake"
ELEMENT_IDS = itertools.count(1)

# The CSS the runner's locators produce: tag, #id, .class, one [attr=value] and :nth-child(n).
CSS = re.compile(
    r"^(?P<tag>\*|[\w-]+)?(?P<id>#[\w-]+)?(?P<classes>(?:\.[\w-]+)*)"
    r"(?:\[(?P<attr>[\w-]+)=(?P<quote>[\"']?)(?P<attr_value>.*?)(?P=quote)\])?(?::nth-child\((?P<nth>\d+)\))?$"
)
# The XPath they produce: (.)//tag, optionally with [@attr='value'] or [. = 'text'].
XPATH = re.compile(
    r"^\.?//(?P<tag>\*|[\w-]+)"
    r"(?:\[\s*(?:@(?P<attr>[\w-]+)|(?P<dot>\.))\s*=\s*(?P<quote>[\"'])(?P<value>.*?)(?P=quote)\s*\])?$"
)


class FakeElement(WebElement):
    """An element: tag, text, attributes and state; clicking may toggle it or run on_click.

    A WebElement subclass only so that ActionChains accepts it; every method the runner calls is faked.
    """

    def __init__(
        self,
        tag: str = "div",
        text: str = "",
        *,
        children: tuple[FakeElement, ...] | list[FakeElement] = (),
        displayed: bool = True,
        enabled: bool = True,
        selected: bool = False,
        on_click: Callable[[], Any] | None = None,
        **attributes: Any,
    ) -> None:
        super().__init__(None, f"fake-element-{next(ELEMENT_IDS)}")
        self._tag = tag
        self._text = text
        self.attributes = {name.rstrip("_").replace("_", "-"): value for name, value in attributes.items()}
        self.displayed, self.enabled, self.selected = displayed, enabled, selected
        self.on_click = on_click
        self.container: FakeElement | None = None
        self.children: list[FakeElement] = []
        self.driver: FakeDriver | None = None
        self.clicks = 0
        self.submitted = False
        for child in children:
            self.append(child)

    def __repr__(self) -> str:
        return f"<FakeElement {self._tag} {self.attributes}>"

    @property
    def tag_name(self) -> str:
        return self._tag

    def append(self, child: FakeElement) -> FakeElement:
        child.container = self
        self.children.append(child)
        return child

    def descendants(self) -> Iterator[FakeElement]:
        """Elements below this one in document order, not entering frames."""
        for child in self.children:
            yield child
            if child.tag_name != "iframe":
                yield from child.descendants()

    # ---- the WebElement API the runner uses ----------------------------------------------------------

    def _guard(self) -> None:
        if self.driver is not None:
            self.driver._guard()

    @property
    def text(self) -> str:
        self._guard()
        if not self.displayed:
            return ""
        return self._text + "".join(child.text for child in self.children if child.tag_name != "option")

    def get_attribute(self, name: str) -> str | None:
        self._guard()
        value = self.attributes.get(name)
        if name == "value" and value is None and self.tag_name == "select":
            chosen = [option for option in self.children if option.selected]
            return chosen[0].get_attribute("value") if chosen else None
        return None if value is None else str(value)

    get_dom_attribute = get_attribute

    def is_displayed(self) -> bool:
        return self.displayed

    def is_enabled(self) -> bool:
        return self.enabled

    def is_selected(self) -> bool:
        return self.selected

    def click(self) -> None:
        self._guard()
        self.clicks += 1
        if self.attributes.get("type") in ("checkbox", "radio"):
            self.selected = not self.selected
        if self.tag_name == "option":
            select = self.container
            if select is not None and "multiple" not in select.attributes:
                for option in select.children:
                    option.selected = False
                self.selected = True
            else:
                self.selected = not self.selected
        if self.on_click is not None:
            self.on_click()

    def clear(self) -> None:
        self._guard()
        self.attributes["value"] = ""

    def send_keys(self, *values: str) -> None:
        self._guard()
        self.attributes["value"] = str(self.attributes.get("value") or "") + "".join(values)

    def submit(self) -> None:
        self._guard()
        self.submitted = True

    def find_elements(self, by: str, value: str) -> list[FakeElement]:
        self._guard()
        found = find(self.descendants(), by, value)
        for el in found:
            el.driver = self.driver
        return found


def find(candidates: Iterator[FakeElement], by: str, value: str) -> list[FakeElement]:
    """The candidates that match a Selenium (By, value) pair."""
    if by == By.XPATH:
        match = XPATH.match(value)
        if match is None:
            raise InvalidSelectorException(f"FakeDriver does not understand the XPath {value!r}")
        tag, attr, dot, expected = match["tag"], match["attr"], match["dot"], match["value"]

        def test(el: FakeElement) -> bool:
            if tag != "*" and el.tag_name != tag:
                return False
            if attr is not None:
                return str(el.attributes.get(attr)) == expected
            return el.text == expected if dot else True

    elif by == By.CSS_SELECTOR:
        match = CSS.match(value)
        if match is None:
            raise InvalidSelectorException(f"FakeDriver does not understand the CSS {value!r}")

        def test(el: FakeElement) -> bool:
            classes = str(el.attributes.get("class") or "").split()
            return (
                match["tag"] in (None, "*", el.tag_name)
                and (match["id"] is None or el.attributes.get("id") == match["id"][1:])
                and all(name in classes for name in match["classes"].split(".")[1:])
                and (match["attr"] is None or str(el.attributes.get(match["attr"])) == match["attr_value"])
                and (match["nth"] is None or position(el) == int(match["nth"]))
            )

    else:
        tests: dict[str, Callable[[FakeElement], bool]] = {
            By.ID: lambda el: el.attributes.get("id") == value,
            By.NAME: lambda el: el.attributes.get("name") == value,
            By.TAG_NAME: lambda el: el.tag_name == value,
            By.LINK_TEXT: lambda el: el.tag_name == "a" and el.text == value,
            By.PARTIAL_LINK_TEXT: lambda el: el.tag_name == "a" and value in el.text,
        }
        if by not in tests:
            raise InvalidSelectorException(f"FakeDriver does not know the strategy {by!r}")
        test = tests[by]
    return [el for el in candidates if test(el)]


def position(el: FakeElement) -> int:
    """1-based position among its parent's children (CSS :nth-child)."""
    siblings = el.container.children if el.container is not None else [el]
    return siblings.index(el) + 1


class FakePage:
    """A document at a URL: a title and a tree of elements (iframes hold their frame's elements)."""

    def __init__(self, url: str, title: str = "", elements: tuple[FakeElement, ...] = ()) -> None:
        self.url = url
        self.title = title
        self.root = FakeElement("html", children=elements)


class FakeAlert:
    """An open alert, confirm or prompt; answering it closes it and is recorded on the driver."""

    def __init__(self, driver: FakeDriver, text: str) -> None:
        self.driver = driver
        self._text = text
        self.typed: str | None = None

    @property
    def text(self) -> str:
        return self._text

    def send_keys(self, keys: str) -> None:
        self.typed = keys

    def accept(self) -> None:
        self.driver.dialog_answers.append((self._text, "accept", self.typed))
        self.driver.alert = None

    def dismiss(self) -> None:
        self.driver.dialog_answers.append((self._text, "dismiss", None))
        self.driver.alert = None


class FakeSwitchTo:
    """driver.switch_to: windows, frames and the open alert."""

    def __init__(self, driver: FakeDriver) -> None:
        self.driver = driver

    @property
    def alert(self) -> FakeAlert:
        if self.driver.alert is None:
            raise NoAlertPresentException("no such alert")
        return self.driver.alert

    def window(self, handle: str) -> None:
        self.driver._guard()
        if handle not in self.driver.windows:
            raise NoSuchWindowException(f"no such window: {handle}")
        self.driver.current_window_handle = handle
        self.driver.frames = []

    def frame(self, reference: int | FakeElement) -> None:
        self.driver._guard()
        if isinstance(reference, int):
            frames = [el for el in self.driver.search_root().descendants() if el.tag_name == "iframe"]
            if reference >= len(frames):
                raise NoSuchFrameException(f"no frame at index {reference}")
            reference = frames[reference]
        if reference.tag_name != "iframe":
            raise NoSuchFrameException("not a frame")
        self.driver.frames.append(reference)

    def parent_frame(self) -> None:
        if self.driver.frames:
            self.driver.frames.pop()

    def default_content(self) -> None:
        self.driver.frames = []


class FakeDriver:
    """A WebDriver over FakePages: navigation, windows, frames, dialogs, scripts with canned results."""

    def __init__(self) -> None:
        self.pages: dict[str, FakePage] = {"about:blank": FakePage("about:blank")}
        self.windows: dict[str, FakePage] = {"window-1": self.pages["about:blank"]}
        self.current_window_handle = "window-1"
        self.frames: list[FakeElement] = []
        self.alert: FakeAlert | None = None
        self.switch_to = FakeSwitchTo(self)
        # Script text exactly as the runner sends it -> a value, or a callable given the script's arguments.
        self.scripts: dict[str, Any] = {}
        self.async_scripts: dict[str, Any] = {}  # the user's script (inside the runner's wrapper) -> value
        self.executed_scripts: list[tuple[str, tuple]] = []
        self.console: list[dict[str, Any]] = []
        self.visited: list[str] = []
        self.dialog_answers: list[tuple[str, str, str | None]] = []
        self.actions: list[Any] = []
        self.timeouts: dict[str, float] = {}
        self.window_size: tuple[int, int] | None = None
        self.screenshots_taken = 0
        self.quit_called = False
        self.aborted = threading.Event()
        # Calls the runner made after the browser was aborted: a Grid would never have answered them.
        self.asked_after_abort = 0
        self._next_window = 2

    # ---- building the fake world -----------------------------------------------------------------

    def add_page(self, url: str, title: str = "", *elements: FakeElement) -> FakePage:
        self.pages[url] = FakePage(url, title, elements)
        return self.pages[url]

    def element(self, element_id: str) -> FakeElement:
        """The element with this id on any page, for a test to inspect (no dialog or session checks)."""
        for page in self.pages.values():
            for el in page.root.descendants():
                if el.attributes.get("id") == element_id:
                    return el
        raise KeyError(element_id)

    def show_dialog(self, text: str) -> None:
        """Open an alert/confirm/prompt, as a page script would."""
        self.alert = FakeAlert(self, text)

    def open_window(self, url: str) -> str:
        """Open a new window on url (as a target=_blank link would); return its handle."""
        handle = f"window-{self._next_window}"
        self._next_window += 1
        self.windows[handle] = self.pages[url]
        return handle

    # ---- the WebDriver API the runner uses -------------------------------------------------------

    def _asked(self) -> None:
        if self.aborted.is_set():
            self.asked_after_abort += 1

    def _guard(self) -> None:
        self._asked()
        if self.quit_called:
            raise WebDriverException("invalid session id")
        if self.alert is not None:
            raise UnexpectedAlertPresentException(alert_text=self.alert.text)

    @property
    def page(self) -> FakePage:
        return self.windows[self.current_window_handle]

    def search_root(self) -> FakeElement:
        return self.frames[-1] if self.frames else self.page.root

    @property
    def title(self) -> str:
        self._guard()
        return self.page.title

    @property
    def current_url(self) -> str:
        return self.page.url

    @property
    def window_handles(self) -> list[str]:
        self._asked()
        return list(self.windows)

    def get(self, url: str) -> None:
        self._guard()
        if url not in self.pages:
            raise WebDriverException(f"unknown error: net::ERR_CONNECTION_REFUSED ({url})")
        self.visited.append(url)
        self.windows[self.current_window_handle] = self.pages[url]
        self.frames = []

    def find_elements(self, by: str, value: str) -> list[FakeElement]:
        self._guard()
        found = find(self.search_root().descendants(), by, value)
        for el in found:
            el.driver = self  # so that the element, too, runs into an open dialog
        return found

    def execute_script(self, script: str, *args: Any) -> Any:
        self._guard()
        self.executed_scripts.append((script, args))
        if script in self.scripts:
            canned = self.scripts[script]
            return canned(*args) if callable(canned) else canned
        literal = re.fullmatch(r"return !!\((true|false)\);", script)
        if literal:
            return literal[1] == "true"
        if "isContentEditable" in script:
            el, text = args
            if el.attributes.get("contenteditable") != "true":
                return False
            el._text = text
            return True
        if "createElement('script')" in script:
            return None
        raise JavascriptException(f"FakeDriver has no canned result for {script!r}")

    def execute_async_script(self, script: str, *args: Any) -> Any:
        self._guard()
        for user_script, canned in self.async_scripts.items():
            if "(function() { " + user_script + " })" in script:
                value = canned(*args) if callable(canned) else canned
                if isinstance(value, Exception):
                    return {"ok": False, "error": str(value)}
                return {"ok": True, "value": value}
        raise JavascriptException("FakeDriver has no canned result for this async script")

    def execute(self, command: str, params: dict | None = None) -> dict:
        """What ActionChains sends (W3C actions): recorded, not performed."""
        self._guard()
        self.actions.append((command, params))
        return {"value": None}

    def set_page_load_timeout(self, seconds: float) -> None:
        self.timeouts["page_load"] = seconds

    def set_script_timeout(self, seconds: float) -> None:
        self.timeouts["script"] = seconds

    def set_window_size(self, width: int, height: int) -> None:
        self._guard()
        self.window_size = (width, height)

    def close(self) -> None:
        self._guard()
        del self.windows[self.current_window_handle]

    def get_log(self, kind: str) -> list[dict[str, Any]]:
        self._asked()
        if kind != "browser":
            return []
        entries, self.console = self.console, []
        return entries

    def get_screenshot_as_png(self) -> bytes:
        self._guard()
        self.screenshots_taken += 1
        return PNG

    def quit(self) -> None:
        self.quit_called = True


class FakeBrowser:
    """What a driver_factory returns: entering yields the FakeDriver, leaving quits it.

    Like runner.driver.Browser, an abortable one has abort(), which the engine's watchdog calls to kill
    a browser stuck in a call; without it the watchdog stays idle.
    """

    def __init__(self, driver: FakeDriver | None = None, *, abortable: bool = False) -> None:
        self.driver = driver or FakeDriver()
        self.started = 0
        self.aborted = False
        if abortable:
            self.abort = self._abort

    def factory(self) -> FakeBrowser:
        self.started += 1
        return self

    def __enter__(self) -> FakeDriver:
        return self.driver

    def __exit__(self, *exc_info: object) -> None:
        self.driver.quit()

    def _abort(self) -> None:
        self.aborted = True
        self.driver.aborted.set()
