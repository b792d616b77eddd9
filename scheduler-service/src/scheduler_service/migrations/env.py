"""Alembic environment of the scheduler service."""

from shared.migrations import run_env
from scheduler_service.models import Base

run_env(Base.metadata, version_table="alembic_version_scheduler")
