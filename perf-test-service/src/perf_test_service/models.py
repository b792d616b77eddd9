"""Tables the perf-test service owns: scenarios and their runs (with report and CSV)."""

from __future__ import annotations

from sqlalchemy import JSON, Integer, String, Text, func
from sqlalchemy.orm import Mapped, column_property, mapped_column

from shared import names
from shared.db import OwnedColumns, make_base
from shared.runs.kind import RunKind
from shared.runs.model import RunColumns, active_run_index, idempotency_key_index, list_index, target_reference

Base = make_base()


class Scenario(OwnedColumns, Base):
    """A declarative scenario, or (admins only) a raw locustfile with a host and thresholds."""

    __tablename__ = "scenarios"

    host: Mapped[str] = mapped_column(String(2000), default="")
    definition: Mapped[dict] = mapped_column(JSON, default=dict)
    locustfile: Mapped[str | None] = mapped_column(Text, nullable=True)


class Run(RunColumns, Base):
    __tablename__ = "perf_runs"
    __table_args__ = (
        active_run_index("uq_perf_runs_active_scenario", "scenario_id"),
        idempotency_key_index("perf_runs"),
        list_index("perf_runs"),
    )

    scenario_id: Mapped[str | None] = target_reference("scenarios")
    scenario_name: Mapped[str] = mapped_column(String(300), default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0)
    users: Mapped[int] = mapped_column(Integer, default=0)
    # Live while running (about once a second), final once settled.
    stats: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    history: Mapped[list | None] = mapped_column(JSON, nullable=True)
    thresholds: Mapped[list | None] = mapped_column(JSON, nullable=True)
    worker_count: Mapped[int] = mapped_column(Integer, default=0)
    # Deferred: a list or a status reads whether they exist (below), only their own endpoints load them.
    report_html: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)
    stats_csv: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)
    has_report: Mapped[bool] = column_property(func.coalesce(func.length(report_html), 0) > 0)
    has_stats_csv: Mapped[bool] = column_property(func.coalesce(func.length(stats_csv), 0) > 0)


RUNS = RunKind(
    name="perf",
    model=Run,
    target_model=Scenario,
    target_column=Run.scenario_id,
    children=(),
    task=names.PERF_RUN_SCENARIO,
    queue=names.PERF_QUEUE,
    target_noun="scenario",
    cleanup_task=names.PERF_CLEANUP_OLD_RESULTS,
    reap_task=names.PERF_REAP_STUCK_RUNS,
)
