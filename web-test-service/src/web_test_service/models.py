"""Tables the web-test service owns: scripts and their runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime, make_base, utcnow
from shared.runs import RunColumns, new_id

Base = make_base()


class Script(Base):
    __tablename__ = "scripts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(300))
    base_url: Mapped[str] = mapped_column(String(2000), default="")
    commands: Mapped[list] = mapped_column(JSON, default=list)
    timeout_ms: Mapped[int] = mapped_column(Integer, default=300_000)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Run(RunColumns, Base):
    __tablename__ = "web_runs"

    script_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("scripts.id", ondelete="SET NULL"), index=True, nullable=True
    )
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
