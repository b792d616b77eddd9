"""Alembic environment of the perf-test service."""

from shared.migrations import run_env
from perf_test_service.models import Base

run_env(Base.metadata, version_table="alembic_version_perf_test")
