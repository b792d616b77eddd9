"""Scripts, runs, steps and screenshots.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ACTIVE = sa.text("state IN ('queued', 'running')")


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
        sa.Column("owner", sa.String(200), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("task_id", sa.String(64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False, index=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("base_url", sa.String(2000), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("progress_current", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
    )
    op.create_index(
        "uq_web_runs_active_script",
        "web_runs",
        ["script_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
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
