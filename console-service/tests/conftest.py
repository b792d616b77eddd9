"""Fixtures of the console suites: the app on a fresh database and a Redis of its own, and a logged-in client."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from console_service.config import ConsoleSettings
from shared.testing import migrated_app, require_executable, service_settings
from tests.harness import Platform, acceptance_site, platform_with_own_redis

# console_harness.py sits beside this file; --import-mode=importlib puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
from console_browser import CHROMEDRIVER, ConsoleBrowser, start_chromium
from console_harness import ADMIN_PASSWORD, CSRF_FIELD, log_in


@pytest.fixture()
def settings(redis_url, database_url, tmp_path):
    return service_settings(ConsoleSettings, redis_url, database_url, tmp_path)


@pytest.fixture()
def app(settings):
    with migrated_app("console_service", settings) as app:
        yield app


@pytest.fixture()
def admin_client(app):
    client = app.test_client()
    assert log_in(client).status_code == 302
    return client


# --- end to end: the whole platform as `make up` starts it, and a real Chromium on the console -----------------


@pytest.fixture(scope="session")
def platform(tmp_path_factory) -> Iterator[Platform]:
    """One `make up` for the console's browser tests, with a Redis of its own and a known admin password."""
    extra = {"WEB_WORKER_CONCURRENCY": "2", "TESTFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with platform_with_own_redis(tmp_path_factory.mktemp("console"), extra) as running:
        yield running


@pytest.fixture()
def browser(platform) -> Iterator[ConsoleBrowser]:
    """A fresh Chromium (no cookies) on the console, through the gateway."""
    require_executable(CHROMEDRIVER)
    driver = start_chromium()
    try:
        yield ConsoleBrowser(driver, platform.gateway)
    finally:
        driver.quit()


@pytest.fixture()
def viewer(platform) -> tuple[str, str]:
    """A new viewer account (a name of its own, so suites sharing the platform never clash): name, password."""
    admin = requests.Session()
    csrf = CSRF_FIELD.search(admin.get(f"{platform.gateway}/login", timeout=10).text).group(1)
    admin.post(f"{platform.gateway}/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": csrf},
               timeout=10)  # fmt: skip
    # A login starts a fresh session, with a CSRF token of its own.
    csrf = CSRF_FIELD.search(admin.get(f"{platform.gateway}/tokens", timeout=10).text).group(1)
    name, password = f"viewer-{uuid.uuid4().hex[:8]}", "viewer-password-1"
    account = {"id": name, "password": password, "role": "viewer"}
    made = admin.post(f"{platform.gateway}/api/v1/auth/users", json=account, headers={"X-CSRFToken": csrf}, timeout=10)
    assert made.status_code == 201, made.text
    return name, password


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Iterator[str]:
    """Pages for the web runs the console starts (tests/harness.py: acceptance_site)."""
    with acceptance_site(tmp_path_factory.mktemp("site")) as url:
        yield url
