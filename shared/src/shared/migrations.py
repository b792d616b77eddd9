"""Alembic, run programmatically: one migrations folder and version table per service."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config


def alembic_config(package: str, url: str) -> Config:
    """Return an Alembic config for `<package>/migrations` against url."""
    module = importlib.import_module(package)
    location = Path(str(module.__file__)).parent / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["package"] = package
    return cfg


def upgrade(package: str, url: str, revision: str = "head") -> None:
    """Bring the service's database to revision (default: the newest)."""
    command.upgrade(alembic_config(package, url), revision)


def downgrade(package: str, url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(package, url), revision)


def run_env(target_metadata, version_table: str) -> None:
    """The body of every service's migrations/env.py (online mode only)."""
    from shared.db import make_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic config without sqlalchemy.url: run migrations through shared.migrations.upgrade")
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


@contextmanager
def references_kept_on_sqlite(references: list[tuple[str, str]]) -> Iterator[None]:
    """Around a batch operation that recreates a table on SQLite: keep the (table, column) references to it.

    SQLite's batch mode copies the table and drops the old one; with foreign keys on (shared.db), that DROP
    is an implicit DELETE whose ON DELETE SET NULL would clear every referencing column given here (a run's
    script_id). Their values are saved before and written back after; other databases alter in place.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    saved = []
    for table_name, column in references:
        table = sa.table(table_name, sa.column("id"), sa.column(column))
        query = sa.select(table.c.id, table.c[column]).where(table.c[column].is_not(None))
        saved.append((table, column, [{"row": row_id, "value": value} for row_id, value in bind.execute(query)]))
    yield
    for table, column, rows in saved:
        if rows:
            restore = sa.update(table).where(table.c.id == sa.bindparam("row")).values({column: sa.bindparam("value")})
            bind.execute(restore, rows)


# --- the run table's shared columns, as each service's migrations create them ------------------


def run_columns() -> list[sa.Column]:
    """The columns of shared.runs.model.RunColumns as revision 0001 of each service created them."""
    ts = sa.DateTime(timezone=True)
    return [
        sa.Column("owner", sa.String(200), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("task_id", sa.String(64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", ts, nullable=False, index=True),
        sa.Column("started_at", ts, nullable=True),
        sa.Column("finished_at", ts, nullable=True),
        sa.Column("heartbeat_at", ts, nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
    ]


def create_active_run_index(name: str, table: str, target_column: str) -> None:
    """The partial unique index behind "one active run per target" (shared.runs.model.active_run_index)."""
    active = sa.text("state IN ('queued', 'running')")
    op.create_index(name, table, [target_column], unique=True, sqlite_where=active, postgresql_where=active)


def add_run_time_limit(table: str) -> None:
    """Revision 0002 of each run table: the run's own time limit, kept for a requeue."""
    op.add_column(table, sa.Column("time_limit_s", sa.Integer(), nullable=False, server_default="0"))


def add_run_idempotency_key(table: str) -> None:
    """Revision 0003 of each run table: the run's Idempotency-Key, unique per owner (shared.runs.model)."""
    op.add_column(table, sa.Column("idempotency_key", sa.String(255), nullable=True))
    op.add_column(table, sa.Column("idempotency_fingerprint", sa.String(64), nullable=True))
    op.create_index(f"uq_{table}_owner_idempotency_key", table, ["owner", "idempotency_key"], unique=True)


def drop_run_idempotency_key(table: str) -> None:
    """Undo add_run_idempotency_key."""
    op.drop_index(f"uq_{table}_owner_idempotency_key", table_name=table)
    op.drop_column(table, "idempotency_fingerprint")
    op.drop_column(table, "idempotency_key")


def create_list_index(table: str) -> None:
    """The run table's (owner, created_at, id) index behind a tester's list of runs (shared.runs.model.list_index)."""
    op.create_index(f"ix_{table}_owner_created_at", table, ["owner", "created_at", "id"])


def drop_list_index(table: str) -> None:
    """Undo create_list_index."""
    op.drop_index(f"ix_{table}_owner_created_at", table_name=table)
