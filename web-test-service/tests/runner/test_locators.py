"""Selenium IDE locator strings -> Selenium (By, value)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from web_test_service.runner.locators import (
    LocatorError,
    parse_attribute_locator,
    parse_coordinates,
    parse_locator,
    parse_option_locator,
    parse_window_locator,
    parse_window_size,
    xpath_literal,
)


@pytest.mark.parametrize(
    ("locator", "expected"),
    [
        ("id=username", (By.ID, "username")),
        ("name=q", (By.NAME, "q")),
        ("link=Sign in", (By.LINK_TEXT, "Sign in")),
        ("linkText=Sign in", (By.LINK_TEXT, "Sign in")),
        ("partialLinkText=Sign", (By.PARTIAL_LINK_TEXT, "Sign")),
        ("css=input[name=q]", (By.CSS_SELECTOR, "input[name=q]")),
        ("xpath=//a[@href='x=1']", (By.XPATH, "//a[@href='x=1']")),
        ("//div[@id='a']", (By.XPATH, "//div[@id='a']")),
    ],
)
def test_element_locators(locator, expected):
    assert parse_locator(locator) == expected


@pytest.mark.parametrize(
    ("locator", "message"),
    [
        ("identifier=x", "Unknown locator identifier"),
        ("dom=document.x", "Unknown locator dom"),
        ("class=btn", "Unknown locator class"),
        ("username", "Unknown locator username"),
        ("${loc}", "Unknown locator ${loc}"),
        ("", "Locator can't be empty"),
        ("id=", "Locator id= has no value"),
    ],
)
def test_bad_element_locators(locator, message):
    with pytest.raises(LocatorError) as caught:
        parse_locator(locator)
    assert str(caught.value) == message


def test_option_locators():
    assert parse_option_locator("label=Blue") == (By.XPATH, ".//option[. = 'Blue']")
    assert parse_option_locator("Blue") == (By.XPATH, ".//option[. = 'Blue']")
    assert parse_option_locator("value=b") == (By.CSS_SELECTOR, '*[value="b"]')
    assert parse_option_locator("id=opt") == (By.CSS_SELECTOR, '*[id="opt"]')
    assert parse_option_locator("index=2") == (By.CSS_SELECTOR, "*:nth-child(2)")
    assert parse_option_locator("label=a=b") == (By.XPATH, ".//option[. = 'a=b']")
    by, value = parse_option_locator("label=mostly-equals: Two  words ")
    assert by == By.XPATH and "normalize-space" in value and "'Two  words'" in value
    with pytest.raises(LocatorError, match="Unknown selection locator text"):
        parse_option_locator("text=x")
    with pytest.raises(LocatorError, match="index must be a number"):
        parse_option_locator("index=first")


def test_xpath_literal_handles_both_quotes():
    assert xpath_literal("plain") == "'plain'"
    assert xpath_literal("it's") == '"it\'s"'
    assert xpath_literal("""a'b"c""") == """concat('a', "'", 'b"c')"""


def test_attribute_window_and_coordinate_arguments():
    assert parse_attribute_locator("css=a[data-x='1@2']@href") == ("css=a[data-x='1@2']", "href")
    assert parse_coordinates("10,-5") == (10, -5)
    assert parse_window_locator("handle=CDwindow-1") == "CDwindow-1"
    assert parse_window_size("1280x800") == (1280, 800)
    for bad in (
        lambda: parse_attribute_locator("id=x"),
        lambda: parse_coordinates("10"),
        lambda: parse_window_locator("name=main"),
        lambda: parse_window_size("big"),
    ):
        with pytest.raises(LocatorError):
            bad()


@pytest.mark.parametrize(
    "bad",
    [
        lambda: parse_coordinates("inf,1"),  # OverflowError inside, a LocatorError outside
        lambda: parse_coordinates("1,2,3"),
        lambda: parse_window_size("²x3"),  # a digit to str.isdigit, not to int()
        lambda: parse_option_locator("index=²"),
    ],
)
def test_odd_numbers_are_locator_errors(bad):
    with pytest.raises(LocatorError):
        bad()
