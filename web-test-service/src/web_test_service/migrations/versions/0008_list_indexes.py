"""Indexes behind the lists a client polls: a tester's runs and project runs newest first, the project runs not
finished yet, and a project found by its IDE id (GET /runs, /project-runs, /projects?side_id=).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_list_index, drop_list_index

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("finished_at IS NULL")


def upgrade() -> None:
    create_list_index("web_runs")
    create_list_index("project_runs")
    op.create_index(
        "ix_project_runs_unfinished",
        "project_runs",
        ["created_at"],
        sqlite_where=UNFINISHED,
        postgresql_where=UNFINISHED,
    )
    op.create_index("ix_projects_side_id", "projects", ["side_id"])


def downgrade() -> None:
    op.drop_index("ix_projects_side_id", table_name="projects")
    op.drop_index("ix_project_runs_unfinished", table_name="project_runs")
    drop_list_index("project_runs")
    drop_list_index("web_runs")
