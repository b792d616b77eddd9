"""Scripts, runs, steps and screenshots.

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
        "scripts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False, index=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("base_url", sa.String(2000), nullable=False),
        sa.Column("commands", sa.JSON(), nullable=False),
        sa.Column("timeout_ms", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=True, index=True),
        sa.Column("project_name", sa.String(300), nullable=True),
        sa.Column("suites", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "web_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "script_id", sa.String(32), sa.ForeignKey("scripts.id", ondelete="SET NULL"), nullable=True, index=True
        ),
        sa.Column("script_name", sa.String(300), nullable=False),
        *run_columns(),
        sa.Column("base_url", sa.String(2000), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("progress_current", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
    )
    create_active_run_index("uq_web_runs_active_script", "web_runs", "script_id")
    op.create_table(
        "web_steps",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", sa.String(32), sa.ForeignKey("web_runs.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("command", sa.String(100), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("has_screenshot", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "web_screenshots",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", sa.String(32), sa.ForeignKey("web_runs.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("web_screenshots")
    op.drop_table("web_steps")
    op.drop_index("uq_web_runs_active_script", table_name="web_runs")
    op.drop_table("web_runs")
    op.drop_table("scripts")
