"""A real headless Chromium driving the console through the gateway, with axe-core's accessibility check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from console_harness import ADMIN_PASSWORD
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

# axe-core from the npm registry (console-service/package.json devDependencies, installed by scripts/install.sh).
AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
BLOCKING_IMPACTS = {"serious", "critical"}
REREADS = 5
REPLACED_NODE = "does not belong to the document"


def start_chromium() -> webdriver.Chrome:
    """A headless Chromium with a fresh profile, as a tester's browser."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


class ConsoleBrowser:
    """The console as a person uses it: pages by path, forms by label, waits with deadlines."""

    def __init__(self, driver: webdriver.Chrome, base_url: str):
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base_url)

    def log_in(self, user: str, password: str) -> None:
        """Fill the login form and submit it."""
        self.open("/login")
        self.fill("User name", user)
        self.fill("Password", password)
        self.press("Log in")

    def log_out(self) -> None:
        self.press("Log out")

    def field(self, label: str) -> WebElement:
        """The form field a visible <label> names."""
        found = self.driver.find_element(By.XPATH, f'//label[normalize-space()="{label}"]')
        return self.driver.find_element(By.ID, found.get_attribute("for"))

    def fill(self, label: str, value: str) -> None:
        element = self.field(label)
        element.clear()
        element.send_keys(value)

    def press(self, text: str) -> None:
        """Click the button whose text (or aria-label) is text."""
        self.driver.find_element(By.XPATH, f'//button[normalize-space()="{text}" or @aria-label="{text}"]').click()

    def text(self, css: str = "main") -> str:
        """The text of what css finds now. An element replaced while it is read (a form submitted, an htmx swap) is
        looked up again, a few times: chromedriver says so as a stale element or, during a navigation, as a node
        that "does not belong to the document"."""
        for _ in range(REREADS):
            try:
                return self.driver.find_element(By.CSS_SELECTOR, css).text
            except StaleElementReferenceException:
                continue
            except WebDriverException as exc:
                if REPLACED_NODE not in str(exc):
                    raise
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def wait_for(self, condition: Callable[[webdriver.Chrome], Any], timeout: float = 20, what: str = "") -> Any:
        """Wait until condition(driver) is truthy; fail after timeout seconds, saying what was awaited."""
        # A page that is being replaced (a form submitted, an htmx swap) makes the element looked at stale: look again.
        ignored = (NoSuchElementException, StaleElementReferenceException)
        waiting = WebDriverWait(self.driver, timeout, poll_frequency=0.2, ignored_exceptions=ignored)
        return waiting.until(condition, message=what)

    def wait_for_text(self, text: str, css: str = "main", timeout: float = 20) -> None:
        """Wait until text is in what css finds, across page loads and htmx swaps; fail showing the page."""
        try:
            self.wait_for(lambda _: text in self.text(css), timeout, f"{text!r} in {css}")
        except TimeoutException:
            raise AssertionError(
                f"no {text!r} in {css} of {self.path} after {timeout} s: {self._main_text()!r}"
            ) from None

    def _main_text(self) -> str:
        try:
            return self.text()
        except (NoSuchElementException, StaleElementReferenceException):
            return ""

    def log_in_as_admin(self) -> None:
        self.log_in("admin", ADMIN_PASSWORD)
        self.wait_for_text("Recent web runs")

    def http_session(self) -> requests.Session:
        """A requests session holding the browser's login cookie (to fetch a link as this user would)."""
        session = requests.Session()
        for cookie in self.driver.get_cookies():
            session.cookies.set(cookie["name"], cookie["value"])
        return session

    def accessibility_violations(self) -> list[dict]:
        """axe-core's serious and critical violations on the current page (WCAG 2.x A and AA rules)."""
        if not self.driver.execute_script("return typeof axe !== 'undefined'"):
            self.driver.execute_script(AXE.read_text())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
            ".then(r => done(r.violations), e => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));"
        )
        blocking = [v for v in result if v.get("impact") in BLOCKING_IMPACTS]
        return [{"rule": v["id"], "impact": v["impact"], "help": v["help"], "nodes": _html_of(v)} for v in blocking]

    def assert_accessible(self) -> None:
        violations = self.accessibility_violations()
        assert not violations, f"{self.path}: {violations}"


def _html_of(violation: dict) -> list[str]:
    return [node.get("html", "") for node in violation.get("nodes", [])][:3]
