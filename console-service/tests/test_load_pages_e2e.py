"""Load testing in a real Chromium through the gateway: a scenario made in the form (a refused one first), run live
with charts that gain points and an endpoint table that fills, stopped, its report and CSV; a schedule created,
disabled, enabled and triggered; a viewer who sees but cannot act; axe-core finds nothing serious on any page."""

from __future__ import annotations

import re

import pytest
from console_harness import CSRF_FIELD
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]
ID = r"[0-9a-f]{32}"
# How many points the first chart has (uPlot keeps its data in .data: [times, series...]).
CHART_POINTS = "return window.loadCharts ? window.loadCharts[0].data[0].length : 0"
TERMINAL = ("passed", "failed", "error", "stopped")


def create_scenario(browser, name: str, host: str) -> str:
    """Fill the scenario form with one request to / and save it; the new scenario's id."""
    browser.open("/scenarios/new")
    browser.fill("Name", name)
    browser.fill("Host (e.g. http://127.0.0.1:8000)", host)
    browser.fill("Path of request 1", "/")
    browser.fill("Name of request 1", "home")
    browser.fill("Minimum wait (ms)", "200")
    browser.fill("Maximum wait (ms)", "500")
    browser.press("Save scenario")
    return page_id(browser, "/scenarios/")


def page_id(browser, prefix: str) -> str:
    """Wait until the browser is on prefix + an id; the id."""
    found = browser.wait_for(lambda _d: re.fullmatch(re.escape(prefix) + f"({ID})", browser.path), 20, prefix)
    return found.group(1)


def schedule_row(browser, name: str) -> WebElement:
    return browser.driver.find_element(By.XPATH, f'//tr[th[normalize-space()="{name}"]]')


def test_a_scenario_made_in_the_form_runs_live_and_is_stopped(browser, platform, site):
    browser.log_in_as_admin()
    browser.open("/scenarios")
    browser.assert_accessible()
    browser.open("/scenarios/new")
    browser.fill("Name", "console load")
    browser.fill("Host (e.g. http://127.0.0.1:8000)", site)
    browser.fill("Name of request 1", "home")  # the path left empty: the API refuses it
    browser.fill("Minimum wait (ms)", "100")  # a gentle load: the machine runs the platform and the browser too
    browser.fill("Maximum wait (ms)", "300")
    browser.press("Save scenario")
    browser.wait_for_text("The scenario was not saved")
    beside = browser.driver.find_element(By.ID, "requests-0-path-error").text
    assert "at least 1 character" in beside, beside
    assert browser.field("Name").get_attribute("value") == "console load"
    assert browser.field("Name of request 1").get_attribute("value") == "home"
    assert browser.field("Maximum wait (ms)").get_attribute("value") == "300"
    assert "Traceback" not in browser.text()
    browser.assert_accessible()

    browser.fill("Path of request 1", "/")
    browser.press("Save scenario")
    scenario_id = page_id(browser, "/scenarios/")
    browser.wait_for_text("Run it")
    browser.assert_accessible()
    browser.fill("Users", "2")
    browser.fill("Run time (e.g. 30s, 5m, 1h30m)", "60s")
    browser.press("Start load run")
    run_id = page_id(browser, "/load-runs/")

    try:
        first = browser.wait_for(lambda d: d.execute_script(CHART_POINTS), 40, "the chart's first points")
    except TimeoutException:
        logs = browser.driver.get_log("browser")
        pytest.fail(f"no points on the chart; the page says {browser.text('main')!r}; console: {logs}")
    browser.wait_for(lambda d: d.execute_script(CHART_POINTS) > first, 30, f"more than {first} points on the chart")
    browser.wait_for_text("Latest:", css="#caption-throughput")
    home_requests = "#live tbody tr:first-child td:nth-child(3)"
    browser.wait_for(lambda d: browser.text(home_requests).isdigit(), 20, "a request count")
    assert "home" in browser.text("#live table")
    browser.assert_accessible()

    browser.press("Stop load run")
    browser.wait_for(lambda d: "stopped" in browser.text("#live .run-state"), 60, "the run stopped")
    browser.wait_for(lambda d: d.find_elements(By.LINK_TEXT, "Stats CSV"), 20, "the report links")
    assert not browser.driver.find_elements(By.XPATH, '//button[normalize-space()="Stop load run"]')
    calls = browser.http_session()
    report = calls.get(f"{platform.gateway}/load-runs/{run_id}/report.html", timeout=20)
    assert report.status_code == 200 and report.headers["Content-Type"].startswith("text/html")
    assert "<html" in report.text.lower()
    csv = calls.get(f"{platform.gateway}/load-runs/{run_id}/stats.csv", timeout=20)
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert "Request Count" in csv.text.splitlines()[0] and "home" in csv.text
    browser.assert_accessible()

    browser.open(f"/scenarios/{scenario_id}")
    browser.wait_for_text("stopped", css="#runs-heading + table")


def test_a_schedule_is_created_disabled_enabled_and_triggered(browser, site):
    browser.log_in_as_admin()
    scenario_id = create_scenario(browser, "scheduled load", site)
    browser.open("/schedules")
    browser.assert_accessible()
    browser.fill("Name", "nightly console")
    browser.fill("Cron (minute hour day month weekday, or @daily)", "0 3 * * *")
    browser.fill("Time zone (IANA name)", "Europe/Berlin")
    browser.fill("Target id (a scenario's or a script's)", scenario_id)
    browser.fill("Run parameters (JSON)", '{"user_count": 1, "run_time": "3s"}')
    browser.press("Create schedule")
    browser.wait_for_text("nightly console")
    row = schedule_row(browser, "nightly console")
    assert "enabled" in row.text and len(row.find_elements(By.TAG_NAME, "time")) == 3  # the next fire times
    browser.assert_accessible()

    browser.press("Disable nightly console")
    browser.wait_for(lambda _d: "disabled" in schedule_row(browser, "nightly console").text, 20, "disabled")
    browser.press("Enable nightly console")
    browser.wait_for(lambda _d: schedule_row(browser, "nightly console").find_elements(By.TAG_NAME, "time"), 20)
    browser.press("Trigger now: nightly console")
    browser.wait_for(lambda _d: "started (manual" in schedule_row(browser, "nightly console").text, 20, "started")
    schedule_row(browser, "nightly console").find_element(By.PARTIAL_LINK_TEXT, "run ").click()
    page_id(browser, "/load-runs/")
    browser.wait_for(lambda d: any(s in browser.text("#live .run-state") for s in TERMINAL), 90, "the run ends")
    browser.assert_accessible()


def test_a_viewer_sees_scenarios_and_schedules_but_gets_no_controls(browser, platform, site, viewer):
    browser.log_in_as_admin()
    scenario_id = create_scenario(browser, "viewed load", site)
    browser.log_out()
    browser.log_in(*viewer)
    browser.wait_for_text("Recent web runs")
    browser.open("/scenarios")
    browser.wait_for_text("viewed load")
    assert not browser.driver.find_elements(By.LINK_TEXT, "New scenario")
    browser.open(f"/scenarios/{scenario_id}")
    browser.wait_for_text("Recent runs")
    assert not browser.driver.find_elements(By.XPATH, '//button[normalize-space()="Start load run"]')
    browser.assert_accessible()
    browser.open("/schedules")
    browser.wait_for_text("Cron schedules")
    assert "Create schedule" not in browser.text() and "Trigger now" not in browser.text()
    # Forced anyway, with the viewer's own cookie and CSRF token: the API's refusal, as a readable page.
    calls = browser.http_session()
    token = CSRF_FIELD.search(calls.get(f"{platform.gateway}/scenarios/{scenario_id}", timeout=10).text).group(1)
    forced = calls.post(f"{platform.gateway}/scenarios/{scenario_id}/run", timeout=20,
                        data={"csrf_token": token, "user_count": "1", "run_time": "3s"})  # fmt: skip
    assert forced.status_code == 403 and forced.headers["Content-Type"].startswith("text/html")
    assert "Something went wrong (403)" in forced.text and "Traceback" not in forced.text
