"""Alembic environment of the web-test service."""

from shared.migrations import run_env
from web_test_service.models import Base

run_env(Base.metadata, version_table="alembic_version_web_test")
