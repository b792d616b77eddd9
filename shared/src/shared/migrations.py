"""Alembic, run programmatically: one migrations folder and version table per service."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config


def alembic_config(package: str, url: str) -> Config:
    """Return an Alembic config for `<package>/migrations` against url."""
    module = importlib.import_module(package)
    location = Path(module.__file__).parent / "migrations"
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
