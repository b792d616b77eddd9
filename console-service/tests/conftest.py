"""Fixtures of the console suites: the app on a fresh database and a Redis of its own, and a logged-in client."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from console_service.config import ConsoleSettings
from shared.testing import migrated_app, service_settings

# console_harness.py sits beside this file; --import-mode=importlib puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
from console_harness import ADMIN_PASSWORD, log_in


@pytest.fixture()
def settings(redis_url, database_url, tmp_path):
    return service_settings(ConsoleSettings, redis_url, database_url, tmp_path, admin_password=ADMIN_PASSWORD)


@pytest.fixture()
def app(settings):
    with migrated_app("console_service", settings) as app:
        yield app


@pytest.fixture()
def admin_client(app):
    client = app.test_client()
    assert log_in(client).status_code == 302
    return client
