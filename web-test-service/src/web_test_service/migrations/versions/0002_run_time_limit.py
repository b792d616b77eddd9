"""Runs keep their own time limit (a run the reaper requeues gets the same limits again).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from shared.migrations import add_run_time_limit

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_run_time_limit("web_runs")


def downgrade() -> None:
    op.drop_column("web_runs", "time_limit_s")
