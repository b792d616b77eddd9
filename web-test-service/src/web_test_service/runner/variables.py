"""Variables of a run: `${name}` substitution, `${KEY_*}` keys and script arguments."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from selenium.webdriver.common.keys import Keys

VARIABLE_PATTERN = re.compile(r"\$\{(\w+)\}")

# Selenium IDE predefines ${nbsp}; it cannot be overwritten by a store.
BUILT_IN_VARIABLES: dict[str, str] = {"nbsp": "\u00a0"}

KEY_PREFIX = "KEY_"


def key_names() -> dict[str, str]:
    """Map KEY_ENTER, KEY_TAB, ... to Selenium's key code points."""
    return {
        KEY_PREFIX + name: getattr(Keys, name)
        for name in dir(Keys)
        if name.isupper() and isinstance(getattr(Keys, name), str)
    }


KEYS = key_names()


def js_string(value: Any) -> str:
    """Render a value the way JavaScript's String(value) does, as Selenium IDE compares strings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def js_number(value: float) -> str:
    """Render a float as JavaScript's Number.prototype.toString() does (shortest digits, JS exponent rules)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = int(exponent) + len(digits)  # digits * 10**(point - len(digits)); finite, so an int exponent
    if len(digits) <= point <= 21:
        text = digits + "0" * (point - len(digits))
    elif 0 < point <= 21:
        text = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        text = f"{mantissa}e{'+' if point > 0 else '-'}{abs(point - 1)}"
    return ("-" if sign else "") + text


def interpolate(text: str, variables: Mapping[str, Any], *, keys: bool = False) -> str:
    """Replace each `${name}` by its value; unknown names stay as written (as in Selenium IDE)."""
    if not text or "${" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in BUILT_IN_VARIABLES:
            return BUILT_IN_VARIABLES[name]
        if name in variables:
            return js_string(variables[name])
        if keys and name in KEYS:
            return KEYS[name]
        return match.group(0)

    return VARIABLE_PATTERN.sub(replace, text)


def interpolate_script(script: str, variables: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """Turn each `${name}` into `arguments[i]` so scripts get the values as real JS objects."""
    arguments: list[Any] = []
    index_by_name: dict[str, int] = {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in index_by_name:
            index_by_name[name] = len(arguments)
            arguments.append(BUILT_IN_VARIABLES.get(name, variables.get(name)))
        return f"arguments[{index_by_name[name]}]"

    return VARIABLE_PATTERN.sub(replace, script or ""), arguments


def json_safe(value: Any) -> Any:
    """Reduce a stored value to JSON types (WebElements and other objects become strings)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    return repr(value)
