"""Runs keep the Idempotency-Key they were started with (a retried start returns the same run).

Revision ID: 0003
Revises: 0002
"""

from shared.migrations import add_run_idempotency_key, drop_run_idempotency_key

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_run_idempotency_key("perf_runs")


def downgrade() -> None:
    drop_run_idempotency_key("perf_runs")
