"""SQLAlchemy 2: declarative base, engine and session factory, Flask integration."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from flask import current_app
from sqlalchemy import DateTime, Executable, MetaData, String, create_engine, event, text
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator
from werkzeug.routing import BaseConverter

if TYPE_CHECKING:
    from flask import Flask

# Stable constraint names so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_base() -> type[DeclarativeBase]:
    """Return a fresh declarative base for one service's tables."""

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION)

    return Base


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; use utcnow()")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):  # noqa: ARG002 (SQLAlchemy's signature)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, or None."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def new_id() -> str:
    """A new primary key: 32 hex characters."""
    return uuid.uuid4().hex


# What a path id may look like (new_id's, with room for others): anything else cannot name a row, so it is a 404
# from the router, before a NUL or a stray byte reaches the database (PostgreSQL refuses NUL in text).
ID_PATTERN = "[A-Za-z0-9_-]{1,64}"


class IdConverter(BaseConverter):
    """The URL converter of every `<name>` in a route (app_factory makes it the default): an id, or no match."""

    regex = ID_PATTERN


class OwnedColumns:
    """Columns of a row a user owns and names (a script, a scenario, a schedule); a model mixes this in."""

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# A database that vanishes without closing connections (a partition, a dead host) must fail a request in
# seconds, not after the kernel's 15-minute retransmission timeout: libpq gives up on unacknowledged data after
# tcp_user_timeout (ms) and probes idle connections with keepalives. tests/reliability/test_database_outage.py
# blackholes the database and measures it.
POSTGRES_TIMEOUTS = {
    "connect_timeout": 3,
    "tcp_user_timeout": 3000,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


def make_engine(url: str) -> Engine:
    """Create an engine that fails fast when the database is unreachable."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # API and workers write concurrently
            # WAL's recommended level: commits do not fsync (checkpoints do), so the write lock, which
            # every API thread and worker shares, is held for microseconds instead of a disk flush.
            # A process crash loses nothing; a power loss may roll back the last commits.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=5,
        connect_args=POSTGRES_TIMEOUTS,
    )


class Database:
    """An engine and a scoped session, removed at the end of each request or task."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.session: scoped_session[Session] = scoped_session(self.session_factory)

    def init_app(self, app: Flask) -> None:
        app.extensions["db"] = self
        app.teardown_appcontext(lambda _exc: self.session.remove())

    def ping(self) -> None:
        """Run a trivial query; raises when the database cannot answer."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()


def rows_changed(session: Session, statement: Executable) -> int:
    """Execute an UPDATE or DELETE and return how many rows it changed."""
    return cast(CursorResult, session.execute(statement)).rowcount


def current_session() -> Session:
    """The current request's (or task's) session of the Flask app's database."""
    return current_app.extensions["db"].session()
