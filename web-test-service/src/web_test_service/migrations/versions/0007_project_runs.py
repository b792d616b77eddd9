"""Project runs: a table of them; web runs learn their project run, suite, position, attempt and flakiness.

The one-active-run-per-script index now covers standalone runs only: a project run's children may run beside
them (and a test may be in two suites of one run).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ACTIVE = "state IN ('queued', 'running')"
FOREIGN_KEY = "fk_web_runs_project_run_id_project_runs"
STANDALONE_ACTIVE = sa.text(f"{ACTIVE} AND project_run_id IS NULL")


def upgrade() -> None:
    op.create_table(
        "project_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False, index=True),
        sa.Column(
            "project_id", sa.String(32), sa.ForeignKey("projects.id", ondelete="SET NULL"), nullable=True, index=True
        ),
        sa.Column("project_name", sa.String(300), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("suites", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False, index=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("stop_requested_at", TS, nullable=True),
    )
    # Plain ADD COLUMNs, no batch copy of web_runs: on SQLite, dropping the old copy would cascade to its steps.
    if op.get_bind().dialect.name == "sqlite":  # SQLite adds a reference only inline, and alembic will not
        op.execute(
            "ALTER TABLE web_runs ADD COLUMN project_run_id VARCHAR(32) REFERENCES project_runs (id) ON DELETE SET NULL"
        )
    else:
        reference = sa.ForeignKey("project_runs.id", ondelete="SET NULL", name=FOREIGN_KEY)
        op.add_column("web_runs", sa.Column("project_run_id", sa.String(32), reference, nullable=True))
    op.create_index("ix_web_runs_project_run_id", "web_runs", ["project_run_id"])
    op.add_column("web_runs", sa.Column("suite_index", sa.Integer(), nullable=True))
    op.add_column("web_runs", sa.Column("position", sa.Integer(), nullable=True))
    op.add_column("web_runs", sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("web_runs", sa.Column("flaky", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.drop_index("uq_web_runs_active_script", table_name="web_runs")
    op.create_index(
        "uq_web_runs_active_script",
        "web_runs",
        ["script_id"],
        unique=True,
        sqlite_where=STANDALONE_ACTIVE,
        postgresql_where=STANDALONE_ACTIVE,
    )


def downgrade() -> None:
    op.execute("DELETE FROM web_runs WHERE project_run_id IS NOT NULL")  # children have no place without them
    op.drop_index("uq_web_runs_active_script", table_name="web_runs")
    active = sa.text(ACTIVE)
    op.create_index(
        "uq_web_runs_active_script",
        "web_runs",
        ["script_id"],
        unique=True,
        sqlite_where=active,
        postgresql_where=active,
    )
    op.drop_index("ix_web_runs_project_run_id", table_name="web_runs")
    with op.batch_alter_table("web_runs") as batch:
        if op.get_bind().dialect.name != "sqlite":
            batch.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        for column in ("flaky", "attempt", "position", "suite_index", "project_run_id"):
            batch.drop_column(column)
    op.drop_table("project_runs")
