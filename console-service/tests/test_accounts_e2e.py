"""Accounts and API tokens in a real Chromium through the gateway: log in (a wrong password refused), make a token
that works on every service, revoke it (another service refuses it within 5 s), a viewer sees but cannot act, and
axe-core finds nothing serious on the pages."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from console_harness import ADMIN_PASSWORD
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from shared.testing import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_dashboard(browser):
    browser.log_in("admin", "not-the-password")
    browser.wait_for_text("Wrong user name or password.")
    assert browser.path.startswith("/login")
    browser.assert_accessible()
    browser.log_in("admin", ADMIN_PASSWORD)
    browser.wait_for_text("Recent web runs")
    assert browser.path == "/"
    # The platform table (from the scheduler's status): each queue with its workers online.
    browser.wait_for_text("Queues and workers online", css="#overview")
    queues = browser.text("#overview table")
    assert all(f"{queue} " in queues for queue in ("web", "perf", "maintenance")), queues
    browser.assert_accessible()


def run_testfleet(*args: str, config_home: Path) -> subprocess.CompletedProcess[str]:
    """The CI command line, installed beside this Python, with its own config folder."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
    env.pop("TESTFLEET_URL", None), env.pop("TESTFLEET_TOKEN", None)
    command = [str(Path(sys.executable).parent / "testfleet"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_a_token_made_in_the_console_works_everywhere_until_revoked(browser, platform, tmp_path):
    browser.log_in("admin", ADMIN_PASSWORD)
    browser.wait_for_text("Recent web runs")
    browser.open("/tokens")
    browser.assert_accessible()
    browser.fill("Name", "ci-pipeline")
    browser.press("Make token")
    browser.wait_for_text("Copy it now")
    token = browser.field("Token").get_attribute("value")
    headers = {"Authorization": f"Bearer {token}"}
    for service in ("web-test", "perf-test", "scheduler", "auth"):
        me = requests.get(f"{platform.gateway}/api/v1/{service}/me", headers=headers, timeout=10)
        assert me.status_code == 200 and me.json() == {"user": "admin", "role": "admin"}, service
    # The CLI takes it as a pipeline would.
    login = run_testfleet("login", "--url", platform.gateway, "--token", token, config_home=tmp_path)
    assert login.returncode == 0 and token not in login.stdout + login.stderr, login.stderr
    assert run_testfleet("runs", "list", config_home=tmp_path).returncode == 0
    browser.assert_accessible()
    revoked_at = time.monotonic()  # from the click: the console's answer is part of "within 5 s"
    browser.press("Revoke token ci-pipeline")
    browser.wait_for_text("revoked")

    # Refused by the other services (which never talk to the console) within 5 s; each refreshes its own
    # revocation list every second, so each is waited for, not only the first.
    def refused_everywhere() -> bool:
        return all(
            requests.get(f"{platform.gateway}/api/v1/{service}/me", headers=headers, timeout=5).status_code == 401
            for service in ("web-test", "perf-test", "scheduler")
        )

    wait_until(refused_everywhere, 5, 0.1, what="the revoked token refused by every service")
    refused_after = time.monotonic() - revoked_at
    assert refused_after < 5
    print(f"FIGURE revocation: the revoked token refused by every service {refused_after:.2f} s after the revoke")
    refused = requests.get(f"{platform.gateway}/api/v1/perf-test/me", headers=headers, timeout=5)
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "token revoked"
    after = run_testfleet("runs", "list", config_home=tmp_path)
    assert after.returncode == 2 and "revoked" in after.stderr, after.stderr


def test_the_login_works_with_the_keyboard_alone(browser):
    browser.open("/login")
    focused = browser.driver.switch_to.active_element  # the user name field has the focus
    focused.send_keys("admin", Keys.TAB)
    browser.driver.switch_to.active_element.send_keys(ADMIN_PASSWORD, Keys.ENTER)
    browser.wait_for_text("Recent web runs")
    # The first Tab of a page reaches the skip link, which moves the focus to the content.
    browser.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = browser.driver.switch_to.active_element
    assert skip.text == "Skip to content"
    skip.send_keys(Keys.ENTER)
    assert browser.driver.switch_to.active_element.get_attribute("id") == "main"


def test_a_post_without_the_csrf_token_is_refused(platform):
    session = requests.Session()
    page = session.get(f"{platform.gateway}/login", timeout=10)
    assert page.status_code == 200 and "testfleet_session" in session.cookies
    refused = session.post(f"{platform.gateway}/login", data={"username": "admin", "password": ADMIN_PASSWORD},
                           allow_redirects=False, timeout=10)  # fmt: skip
    assert refused.status_code == 400 and "CSRF" in refused.text


def test_an_admin_makes_a_viewer_who_sees_but_cannot_act(browser, platform):
    browser.log_in("admin", ADMIN_PASSWORD)
    browser.wait_for_text("Recent web runs")
    browser.open("/users")
    browser.assert_accessible()
    browser.fill("User name", "vic")
    browser.fill("Password (at least 8 characters)", "vic-password-1")
    browser.driver.find_element(By.CSS_SELECTOR, "#role option[value=viewer]").click()
    browser.press("Create user")
    browser.wait_for_text("vic")
    browser.log_out()
    browser.log_in("vic", "vic-password-1")
    browser.wait_for_text("Recent web runs")
    browser.open("/users")
    browser.wait_for_text("403")
    # The viewer's own session may read through the console, but a run through the API is refused.
    session_cookie = browser.driver.get_cookie("testfleet_session")["value"]
    calls = requests.Session()
    calls.cookies.set("testfleet_session", session_cookie)
    assert calls.get(f"{platform.gateway}/api/v1/auth/me", timeout=10).json() == {"user": "vic", "role": "viewer"}
