"""${var} substitution, keys, script arguments and JavaScript-style string conversion."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.keys import Keys

from web_test_service.runner.variables import interpolate, interpolate_script, js_string, json_safe


def test_interpolate_replaces_known_variables_and_keeps_unknown_ones():
    variables = {"user": "alice", "n": 3}
    assert interpolate("hi ${user}, ${n} new, ${missing}", variables) == "hi alice, 3 new, ${missing}"
    assert interpolate("no variables", variables) == "no variables"
    assert interpolate("", variables) == ""


def test_nbsp_is_built_in_and_keys_only_when_asked():
    assert interpolate("a${nbsp}b", {}) == "a\u00a0b"
    assert interpolate("go${KEY_ENTER}", {}) == "go${KEY_ENTER}"
    assert interpolate("go${KEY_ENTER}${KEY_TAB}", {}, keys=True) == "go" + Keys.ENTER + Keys.TAB


def test_js_string_matches_javascript():
    assert js_string(None) == "null"
    assert js_string(True) == "true"
    assert js_string(2.0) == "2"
    assert js_string(2.5) == "2.5"
    assert js_string(["a", 1, None]) == "a,1,"
    assert js_string({"a": 1}) == '{"a": 1}'
    assert js_string("text") == "text"


def test_interpolate_script_passes_values_as_arguments():
    script, arguments = interpolate_script("return ${a} + ${b} + ${a} + ${nope}", {"a": [1], "b": {"x": 2}})
    assert script == "return arguments[0] + arguments[1] + arguments[0] + arguments[2]"
    assert arguments == [[1], {"x": 2}, None]


def test_json_safe_reduces_unknown_objects():
    marker = object()
    assert json_safe({"a": (1, marker), "b": None})["a"][0] == 1
    assert isinstance(json_safe(marker), str)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (0.000015, "0.000015"),
        (1.5e-7, "1.5e-7"),
        (-0.0, "0"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_js_string_formats_numbers_like_javascript(number, text):
    assert js_string(number) == text
