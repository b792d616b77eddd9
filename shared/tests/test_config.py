"""Settings: local defaults, the secret guard, derived Celery limits."""

import pytest
from pydantic import ValidationError

from shared.config import DEV_AUTH_SECRET, BaseServiceSettings, normalize_database_url


def test_defaults_need_no_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = BaseServiceSettings()
    assert settings.environment == "development"
    assert settings.auth_secret == DEV_AUTH_SECRET
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'var' / 'testfleet.db'}"
    assert settings.redis_url.startswith("redis://127.0.0.1:6379")


@pytest.mark.parametrize("environment", ["production", "test"])
def test_refuses_the_dev_secret_outside_development(environment):
    with pytest.raises(ValidationError, match="AUTH_SECRET must be set"):
        BaseServiceSettings(environment=environment)
    with pytest.raises(ValidationError, match="at least 32"):
        BaseServiceSettings(environment=environment, auth_secret="short")
    assert BaseServiceSettings(environment=environment, auth_secret="x" * 32).environment == environment


def test_reads_the_environment(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("AUTH_SECRET", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/web")
    settings = BaseServiceSettings()
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:p@db:5432/web"


def test_celery_limits_derive_from_the_longest_run():
    settings = BaseServiceSettings(max_run_seconds=600)
    assert settings.max_run_seconds < settings.task_soft_time_limit < settings.task_time_limit
    assert settings.visibility_timeout > settings.task_time_limit


def test_every_service_shares_one_visibility_timeout_above_its_longest_task():
    from perf_test_service.config import PerfTestSettings
    from scheduler_service.config import SchedulerSettings
    from web_test_service.config import WebTestSettings

    services = [cls(_env_file=None) for cls in (WebTestSettings, PerfTestSettings, SchedulerSettings)]
    assert len({s.visibility_timeout for s in services}) == 1  # a sweep by any worker spares every live run
    assert all(s.visibility_timeout > s.longest_task_s for s in services)
    with pytest.raises(ValueError, match="BROKER_VISIBILITY_TIMEOUT_S"):
        PerfTestSettings(_env_file=None, PERF_MAX_RUN_TIME=7200)  # a 2 h load needs a longer timeout
    assert PerfTestSettings(_env_file=None, PERF_MAX_RUN_TIME=7200, broker_visibility_timeout_s=8000).visibility_timeout


def test_normalize_database_url_keeps_other_drivers():
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert normalize_database_url("postgresql+psycopg://h/db") == "postgresql+psycopg://h/db"
