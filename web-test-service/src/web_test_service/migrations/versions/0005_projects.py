"""Projects: a table of Selenium IDE projects, scripts.project_id referencing it, scripts.side_id (the IDE's test id).

Scripts imported before share a project_id string: each distinct one becomes a project (its name, base URL and
suites as the scripts have them), so nothing is lost.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import references_kept_on_sqlite

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
# Runs keep their script through the SQLite copy of `scripts` (batch mode).
RUN_REFERENCES = [("web_runs", "script_id")]


def upgrade() -> None:
    projects = op.create_table(
        "projects",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False, index=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("base_url", sa.String(2000), nullable=False),
        sa.Column("side_id", sa.String(200), nullable=True),
        sa.Column("version", sa.String(20), nullable=False),
        sa.Column("suites", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.bulk_insert(projects, existing_projects())
    with references_kept_on_sqlite(RUN_REFERENCES), op.batch_alter_table("scripts") as batch:
        batch.add_column(sa.Column("side_id", sa.String(200), nullable=True))
        batch.create_foreign_key(
            "fk_scripts_project_id_projects", "projects", ["project_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_unique_constraint("uq_scripts_project_id_side_id", ["project_id", "side_id"])


def existing_projects() -> list[dict]:
    """One project per distinct scripts.project_id: owner, name and base URL of its first script, suites in order."""
    scripts = sa.table(
        "scripts",
        *(sa.column(name) for name in ("id", "owner", "project_id", "project_name", "base_url", "timeout_ms")),
        sa.column("suites", sa.JSON()),
        sa.column("position", sa.Integer()),
        sa.column("created_at", TS),
    )
    query = sa.select(scripts).where(scripts.c.project_id.is_not(None))
    rows = op.get_bind().execute(query.order_by(scripts.c.project_id, scripts.c.position, scripts.c.id)).all()
    projects: dict[str, dict] = {}
    for row in rows:
        project = projects.get(row.project_id)
        if project is None:
            project = projects[row.project_id] = {
                "id": row.project_id,
                "owner": row.owner,
                "name": row.project_name or "",
                "base_url": row.base_url,
                "side_id": None,
                "version": "",
                "suites": [],
                "created_at": row.created_at,
                "updated_at": row.created_at,
            }
        project["created_at"] = min(project["created_at"], row.created_at)
        for name in row.suites or []:
            suite = next((s for s in project["suites"] if s["name"] == name), None)
            if suite is None:
                suite = {"name": name, "parallel": False, "persist_session": False, "timeout_ms": row.timeout_ms}
                project["suites"].append(suite | {"script_ids": []})
                suite = project["suites"][-1]
            suite["script_ids"].append(row.id)
    return list(projects.values())


def downgrade() -> None:
    with references_kept_on_sqlite(RUN_REFERENCES), op.batch_alter_table("scripts") as batch:
        batch.drop_constraint("uq_scripts_project_id_side_id", type_="unique")
        batch.drop_constraint("fk_scripts_project_id_projects", type_="foreignkey")
        batch.drop_column("side_id")
    op.drop_table("projects")
