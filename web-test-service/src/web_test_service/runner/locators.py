"""Selenium IDE locators (element, option, frame, window, attribute, coordinate) -> Selenium terms."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from web_test_service.runner.errors import ScriptError

# Selenium IDE's LOCATORS table; there is no identifier=, dom=, class= or tag=.
ELEMENT_STRATEGIES: dict[str, str] = {
    "id": By.ID,
    "name": By.NAME,
    "link": By.LINK_TEXT,
    "linkText": By.LINK_TEXT,
    "partialLinkText": By.PARTIAL_LINK_TEXT,
    "css": By.CSS_SELECTOR,
    "xpath": By.XPATH,
}


class LocatorError(ScriptError):
    """A locator string that Selenium IDE would reject."""


def parse_locator(locator: str) -> tuple[str, str]:
    """Turn `strategy=value` (or a bare `//xpath`) into Selenium's (By, value)."""
    if locator.startswith("//"):
        return By.XPATH, locator
    strategy, _, selector = locator.partition("=")
    if not strategy:
        raise LocatorError("Locator can't be empty")
    if strategy not in ELEMENT_STRATEGIES:
        raise LocatorError(f"Unknown locator {strategy}")
    if not selector:
        raise LocatorError(f"Locator {strategy}= has no value")
    return ELEMENT_STRATEGIES[strategy], selector


def xpath_literal(text: str) -> str:
    """Quote text for XPath 1.0, which has no escape character."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    parts = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{part}'" for part in parts) + ")"


def css_string(text: str) -> str:
    """Quote text as a CSS string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_option_locator(locator: str) -> tuple[str, str]:
    """Turn `label=`/`value=`/`id=`/`index=` (no prefix = label) into a (By, value) below a select."""
    strategy, separator, selector = locator.partition("=")
    if not separator or not selector:
        # Selenium IDE reads a locator without a known strategy and value as a label.
        strategy, selector = "label", locator
    if strategy == "label":
        mostly = selector.strip()
        if mostly.startswith("mostly-equals:"):
            wanted = mostly[len("mostly-equals:") :].strip()
            return By.XPATH, f".//*[normalize-space(translate(., '\u00a0', ' '))={xpath_literal(wanted)}]"
        return By.XPATH, f".//option[. = {xpath_literal(selector)}]"
    if strategy == "value":
        return By.CSS_SELECTOR, f"*[value={css_string(selector)}]"
    if strategy == "id":
        return By.CSS_SELECTOR, f"*[id={css_string(selector)}]"
    if strategy == "index":
        if not selector.strip().isdecimal():
            raise LocatorError(f"Option index must be a number, got {selector!r}")
        return By.CSS_SELECTOR, f"*:nth-child({int(selector)})"
    raise LocatorError(f"Unknown selection locator {strategy}")


def parse_attribute_locator(locator: str) -> tuple[str, str]:
    """Split `locator@attribute` at the last '@'."""
    element_locator, separator, attribute = locator.rpartition("@")
    if not separator or not element_locator or not attribute:
        raise LocatorError(f"Attribute locator must look like locator@attribute, got {locator!r}")
    return element_locator, attribute


def parse_coordinates(coordinates: str) -> tuple[int, int]:
    """Parse `x,y` (pixels from the element's centre) into integers."""
    parts = coordinates.split(",")
    try:
        x, y = (round(float(part)) for part in parts)
    except (ValueError, OverflowError):  # OverflowError: inf
        raise LocatorError(f"Coordinates must look like x,y, got {coordinates!r}") from None
    return x, y


def parse_window_locator(locator: str) -> str:
    """Return the handle of `handle=...`, the only window locator Selenium IDE knows."""
    prefix = "handle="
    if not locator.startswith(prefix) or len(locator) == len(prefix):
        raise LocatorError("Invalid window handle given (e.g. handle=${handleVariable})")
    return locator[len(prefix) :]


def parse_window_size(size: str) -> tuple[int, int]:
    """Parse `WxH` into (width, height)."""
    width, separator, height = size.lower().partition("x")
    if not separator or not width.strip().isdecimal() or not height.strip().isdecimal():
        raise LocatorError(f"Window size must look like 1280x800, got {size!r}")
    return int(width), int(height)
