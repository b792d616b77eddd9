"""Tables the perf-test service owns: scenarios and their runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime, make_base, utcnow
from shared.runs import RunColumns, new_id

Base = make_base()


class Scenario(Base):
    __tablename__ = "scenarios"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(300))
    host: Mapped[str] = mapped_column(String(2000), default="")
    definition: Mapped[dict] = mapped_column(JSON, default=dict)
    locustfile: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Run(RunColumns, Base):
    __tablename__ = "perf_runs"

    scenario_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("scenarios.id", ondelete="SET NULL"), index=True, nullable=True
    )
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
