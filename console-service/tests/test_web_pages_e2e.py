"""Projects, project runs and web runs in a real Chromium through the gateway: upload a .side (again: updated), run
it with a base URL and a variable, watch its steps turn green and red without reloading, the failing step's
screenshot load, the console log and the JUnit download; stop long runs; a viewer sees but cannot run; axe-core
finds nothing serious on any of these pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By

from shared import paths
from shared.testing import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
UPLOAD_LABEL = "Project file (.side, up to 10 MB)"
# A step the browser spends long enough in for the page to be seen before the run ends.
SLOW_START = ("pause", "1500", "")


def write_side(path: Path, side_id: str, tests: dict[str, list[tuple[str, str, str]]]) -> Path:
    """A one-suite .side project (suite 'main') with the tests {name: [(command, target, value)]}, in order."""
    written = [{"id": name, "name": name, "commands": [{"id": f"{name}-{n}", "command": c, "target": t,
                "targets": [], "value": v} for n, (c, t, v) in enumerate(commands)]}
               for name, commands in tests.items()]  # fmt: skip
    suite = {"id": "main", "name": "main", "persistSession": False, "parallel": False, "timeout": 300,
             "tests": list(tests)}  # fmt: skip
    project = {"id": side_id, "version": "2.0", "name": side_id, "url": "", "tests": written, "suites": [suite]}
    path.write_text(json.dumps(project))
    return path


def upload(browser, side: Path, expected: str) -> None:
    """Upload the .side on /projects and wait for the console to say expected."""
    browser.open("/projects")
    browser.field(UPLOAD_LABEL).send_keys(str(side))
    browser.press("Upload")
    browser.wait_for_text(expected)


def start_run(browser, project_name: str, base_url: str) -> str:
    """From the project's page, run the whole project against base_url; the project run's page path."""
    browser.driver.find_element(By.LINK_TEXT, f"Open {project_name}").click()
    browser.wait_for_text("Suites and tests")
    browser.fill("Base URL", base_url)
    browser.press("Run")
    browser.wait_for(lambda d: "/project-runs/" in d.current_url, what="the project run's page")
    return browser.path


def status_text(browser) -> str:
    return browser.text("#live [role=status]")


def screenshot_loaded(browser) -> bool:
    return bool(browser.driver.execute_script(
        "const img = document.querySelector('img.screenshot'); return img && img.complete && img.naturalWidth > 0;"
    ))  # fmt: skip


def test_a_project_runs_live_with_its_failing_screenshot_console_log_and_junit(browser, site, tmp_path):
    side = write_side(tmp_path / "shop.side", "e2e-shop", {
        "greets": [SLOW_START, ("open", "/", ""), ("assertText", "id=p", "${greeting}")],
        "fails": [("open", "/", ""), ("assertText", "id=p", "goodbye")],
    })  # fmt: skip
    browser.log_in_as_admin()
    browser.open("/projects")
    browser.assert_accessible()
    upload(browser, side, "Imported “e2e-shop”")
    browser.assert_accessible()
    upload(browser, side, "Updated “e2e-shop”")  # the same .side again: the same project, updated
    browser.open("/projects")
    assert browser.text("table").count("e2e-shop") == 1  # the re-upload made no second project

    run_page = start_run_with_variable(browser, site)
    # The page was first drawn while the run had not ended, and it is polled, not reloaded.
    assert browser.driver.find_elements(By.CSS_SELECTOR, "#live[hx-trigger]"), status_text(browser)
    browser.driver.execute_script("window.notReloaded = true")
    browser.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "tr.step-passed"), what="a green step")
    browser.assert_accessible()
    browser.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "tr.step-failed"), 60, "a red step")
    browser.wait_for(lambda _: status_text(browser).startswith("failed"), 60, "the project run failed")
    assert browser.driver.execute_script("return window.notReloaded === true")
    assert "1 passed, 1 failed" in status_text(browser)
    browser.wait_for(lambda _: screenshot_loaded(browser), what="the failing step's screenshot")
    browser.wait_for_text("page says hi")  # the browser console of the tests, once the run ended
    browser.wait_for(lambda d: not d.find_elements(By.XPATH, '//button[normalize-space()="Stop"]'), what="no Stop")
    browser.assert_accessible()

    junit = browser.driver.find_element(By.LINK_TEXT, "Download the JUnit report").get_attribute("href")
    report = browser.http_session().get(junit, timeout=10)
    assert report.status_code == 200 and report.headers["Content-Disposition"].startswith("attachment")
    assert report.text.lstrip().startswith("<?xml") and "<testsuites" in report.text
    assert 'name="greets"' in report.text and "<failure" in report.text

    browser.driver.find_element(By.LINK_TEXT, "attempt 1: failed").click()
    browser.wait_for_text("Web run of fails")
    browser.wait_for(lambda _: screenshot_loaded(browser), what="the screenshot on the web run's page")
    browser.wait_for_text("page says hi")
    alt = browser.driver.find_element(By.CSS_SELECTOR, "img.screenshot").get_attribute("alt")
    assert "assertText id=p" in alt and "failed" in alt
    single = browser.http_session().get(browser.driver.find_element(By.LINK_TEXT, "Download the JUnit report")
                                  .get_attribute("href"), timeout=10)  # fmt: skip
    assert single.status_code == 200 and "<testcase" in single.text and "goodbye" in single.text
    browser.assert_accessible()

    browser.open(run_page)
    browser.driver.find_element(By.LINK_TEXT, "e2e-shop").click()
    browser.wait_for_text("Suites and tests")
    strip = browser.text("table")  # the suite's tests with their verdicts, as text
    assert "passed" in strip and "failed" in strip
    assert browser.driver.find_elements(By.CSS_SELECTOR, "ol.verdicts a.verdict-failed")
    browser.assert_accessible()


def start_run_with_variable(browser, base_url: str) -> str:
    """From /projects, open e2e-shop and run it against base_url with the variable greeting=hello."""
    browser.driver.find_element(By.LINK_TEXT, "e2e-shop").click()
    browser.wait_for_text("Suites and tests")
    browser.fill("Variable 1 name", "greeting")
    browser.fill("Variable 1 value", "hello")
    browser.press("Add a variable")  # htmx appends a fourth row
    browser.wait_for(lambda d: d.find_elements(By.ID, "var-name-3"), 10, "a fourth variable row")
    browser.fill("Variable 4 name", "unused")
    browser.fill("Base URL", base_url)
    browser.assert_accessible()
    browser.press("Run")
    browser.wait_for(lambda d: "/project-runs/" in d.current_url, what="the project run's page")
    return browser.path


def test_a_long_project_run_and_a_long_script_run_are_stopped(browser, platform, site, tmp_path):
    side = write_side(tmp_path / "slow.side", "e2e-slow", {"waits": [("open", "/", ""), ("pause", "60000", "")]})
    browser.log_in_as_admin()
    upload(browser, side, "Imported “e2e-slow”")
    start_run(browser, "e2e-slow", site)
    browser.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "tr.step-passed"), 60, "the open step passed")
    browser.wait_for(lambda _: status_text(browser).startswith("running"), 10, "the project run running")
    browser.press("Stop")
    browser.wait_for(lambda _: status_text(browser).startswith("stopped"), 15, "the project run stopped")
    assert not browser.driver.find_elements(By.XPATH, '//button[normalize-space()="Stop"]')
    browser.assert_accessible()

    # A script's own run (started through the API), stopped from its page.
    api = platform.gateway + paths.WEB_TEST
    headers = platform.headers("admin", "admin")
    project = requests.get(f"{api}/projects", params={"side_id": "e2e-slow"}, headers=headers, timeout=10).json()
    script_id = requests.get(f"{api}/projects/{project['items'][0]['id']}", headers=headers, timeout=10).json()
    started = requests.post(f"{api}/scripts/{script_id['scripts'][0]['id']}/run", json={"base_url": site},
                            headers=headers, timeout=10)  # fmt: skip
    assert started.status_code == 202, started.text
    browser.open(f"/web-runs/{started.json()['run_id']}")
    browser.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "tr.step-passed"), 60, "the open step passed")
    browser.assert_accessible()
    browser.press("Stop")
    browser.wait_for(lambda _: status_text(browser).startswith("stopped"), 15, "the web run stopped")
    wait_until(lambda: requests.get(f"{api}/runs/{started.json()['run_id']}", headers=headers, timeout=10)
               .json()["state"] == "stopped", 10, 0.2, what="the API says stopped")  # fmt: skip


def test_a_viewer_sees_a_project_but_cannot_run_or_upload(browser, platform, site, tmp_path, viewer):
    side = write_side(tmp_path / "seen.side", "e2e-seen", {"looks": [("open", "/", "")]})
    browser.log_in_as_admin()
    upload(browser, side, "Imported “e2e-seen”")
    browser.log_out()
    browser.log_in(*viewer)
    browser.wait_for_text("Recent web runs")
    browser.open("/projects")
    browser.wait_for_text("e2e-seen")
    assert not browser.driver.find_elements(By.ID, "file")  # no upload form
    browser.assert_accessible()
    browser.driver.find_element(By.LINK_TEXT, "e2e-seen").click()
    browser.wait_for_text("looks")
    assert not browser.driver.find_elements(By.XPATH, '//button[normalize-space()="Run"]')
    browser.assert_accessible()
    # Forced anyway, with the page's CSRF token: the API's refusal, as a readable page.
    token = browser.driver.find_element(By.CSS_SELECTOR, 'meta[name="csrf-token"]').get_attribute("content")
    forced = browser.http_session().post(f"{platform.gateway}{browser.path}/run", data={"csrf_token": token,
                                   "base_url": site}, allow_redirects=False, timeout=10)  # fmt: skip
    assert forced.status_code == 403 and forced.headers["Content-Type"].startswith("text/html")
    assert "requires role tester or higher" in forced.text and "Traceback" not in forced.text
