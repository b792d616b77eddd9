"""Tables the web-test service owns: scripts, their runs, step results and screenshots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import UTCDateTime, make_base, utcnow
from shared.runs import RunColumns, new_id

Base = make_base()


class Script(Base):
    """One Selenium IDE test; tests imported together share a project_id (for `run`)."""

    __tablename__ = "scripts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(300))
    base_url: Mapped[str] = mapped_column(String(2000), default="")
    commands: Mapped[list] = mapped_column(JSON, default=list)
    timeout_ms: Mapped[int] = mapped_column(Integer, default=300_000)
    project_id: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    project_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    suites: Mapped[list] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


ACTIVE_RUN_WHERE = text("state IN ('queued', 'running')")


class Run(RunColumns, Base):
    __tablename__ = "web_runs"
    # At most one active run per script, enforced by the database (two racing POSTs: one 409).
    __table_args__ = (
        Index(
            "uq_web_runs_active_script",
            "script_id",
            unique=True,
            sqlite_where=ACTIVE_RUN_WHERE,
            postgresql_where=ACTIVE_RUN_WHERE,
        ),
    )

    script_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("scripts.id", ondelete="SET NULL"), index=True, nullable=True
    )
    script_name: Mapped[str] = mapped_column(String(300), default="")
    base_url: Mapped[str] = mapped_column(String(2000), default="")
    variables: Mapped[dict] = mapped_column(JSON, default=dict)
    progress_current: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    steps: Mapped[list[Step]] = relationship(
        back_populates="run", order_by="Step.seq", cascade="all, delete-orphan", passive_deletes=True
    )


class Step(Base):
    """One executed command of a run, saved as it happens (loops repeat an index)."""

    __tablename__ = "web_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("web_runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    index: Mapped[int] = mapped_column(Integer)
    command: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    has_screenshot: Mapped[bool] = mapped_column(Boolean, default=False)

    run: Mapped[Run] = relationship(back_populates="steps")


class Screenshot(Base):
    """PNG of the page when a step failed; in the database so API and worker need no shared disk."""

    __tablename__ = "web_screenshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("web_runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    png: Mapped[bytes] = mapped_column(LargeBinary)
