"""Scenarios and runs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_active_run_index, run_columns

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False, index=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("host", sa.String(2000), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("locustfile", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "perf_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "scenario_id", sa.String(32), sa.ForeignKey("scenarios.id", ondelete="SET NULL"), nullable=True, index=True
        ),
        sa.Column("scenario_name", sa.String(300), nullable=False),
        *run_columns(),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("elapsed_ms", sa.Integer(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=True),
        sa.Column("thresholds", sa.JSON(), nullable=True),
        sa.Column("worker_count", sa.Integer(), nullable=False),
        sa.Column("report_html", sa.Text(), nullable=True),
        sa.Column("stats_csv", sa.Text(), nullable=True),
    )
    create_active_run_index("uq_perf_runs_active_scenario", "perf_runs", "scenario_id")


def downgrade() -> None:
    op.drop_index("uq_perf_runs_active_scenario", table_name="perf_runs")
    op.drop_table("perf_runs")
    op.drop_table("scenarios")
