"""`python -m shared migrate`, and Flower's Celery app: processes that never see AUTH_SECRET in production."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SERVICES = ("web_test_service", "perf_test_service", "scheduler_service")


def production_env(tmp_path, **extra: str) -> dict[str, str]:
    """A production environment without AUTH_SECRET, as deploy/ gives migrations and Flower."""
    env = {key: value for key, value in os.environ.items() if key != "AUTH_SECRET"}
    return {**env, "ENVIRONMENT": "production", "VAR_DIR": str(tmp_path / "var"), **extra}


@pytest.mark.parametrize("package", SERVICES)
def test_migrations_run_in_production_without_auth_secret(tmp_path, package):
    database = tmp_path / f"{package}.db"
    env = production_env(tmp_path, DATABASE_URL=f"sqlite:///{database}")
    done = subprocess.run([sys.executable, "-m", "shared", "migrate", package], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "database at head" in done.stderr and database.stat().st_size > 0


def test_the_api_settings_still_refuse_a_missing_secret_in_production(tmp_path):
    code = "from web_test_service.config import WebTestSettings; WebTestSettings()"
    done = subprocess.run([sys.executable, "-c", code], env=production_env(tmp_path),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode != 0 and "AUTH_SECRET must be set outside development" in done.stderr


def test_flowers_celery_app_loads_in_production_without_auth_secret(tmp_path):
    code = "import shared.monitor as m; print(m.app.main)"
    done = subprocess.run([sys.executable, "-c", code], env=production_env(tmp_path),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "monitor"
