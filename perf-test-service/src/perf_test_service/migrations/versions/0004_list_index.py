"""The index behind a tester's load runs newest first (GET /runs).

Revision ID: 0004
Revises: 0003
"""

from shared.migrations import create_list_index, drop_list_index

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_list_index("perf_runs")


def downgrade() -> None:
    drop_list_index("perf_runs")
