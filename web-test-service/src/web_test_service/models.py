"""Tables the web-test service owns: projects, scripts, their runs, step results and screenshots, project runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared import names
from shared.db import OwnedColumns, UTCDateTime, make_base, new_id, utcnow
from shared.runs.kind import RunKind
from shared.runs.model import RunColumns, active_run_index, idempotency_key_index, list_index, target_reference
from shared.runs.states import RunState

Base = make_base()

# Screenshot.kind: a failed step's, or the page a failing run ended on.
STEP_SCREENSHOT, FINAL_SCREENSHOT = "step", "final"
# A project run whose verdict is not stored yet (ProjectRun).
UNFINISHED = text("finished_at IS NULL")


class Script(OwnedColumns, Base):
    """One Selenium IDE test; an imported test belongs to a Project (its `run` commands look tests up there).

    `side_id` is the IDE's test id, unique within the project: a re-import keeps the script it names.

    An imported test with a command TestFleet does not support is kept as written, with the reason it cannot
    run in `unrunnable`: {field, index, command, message}, as the 422 of a run names it.
    """

    __tablename__ = "scripts"
    __table_args__ = (UniqueConstraint("project_id", "side_id", name="uq_scripts_project_id_side_id"),)

    base_url: Mapped[str] = mapped_column(String(2000), default="")
    commands: Mapped[list] = mapped_column(JSON, default=list)
    timeout_ms: Mapped[int] = mapped_column(Integer, default=300_000)
    project_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("projects.id", ondelete="CASCADE"), index=True, nullable=True
    )
    side_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    project_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    suites: Mapped[list] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    unrunnable: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), nullable=True, default=None)

    @property
    def runnable(self) -> bool:
        return self.unrunnable is None


class Run(RunColumns, Base):
    """A run of one script: on its own, or as a child of a ProjectRun (one row per test and attempt).

    A child knows its place: the project run, the suite (index into ProjectRun.suites), the test's position
    in it, and its attempt (1, then one more per retry). `flaky`: it passed after a failed attempt.
    """

    __tablename__ = "web_runs"
    __table_args__ = (
        active_run_index("uq_web_runs_active_script", "script_id", standalone="project_run_id IS NULL"),
        idempotency_key_index("web_runs"),
        list_index("web_runs"),
    )

    script_id: Mapped[str | None] = target_reference("scripts")
    script_name: Mapped[str] = mapped_column(String(300), default="")
    base_url: Mapped[str] = mapped_column(String(2000), default="")
    variables: Mapped[dict] = mapped_column(JSON, default=dict)
    progress_current: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    project_run_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("project_runs.id", ondelete="SET NULL"), index=True, nullable=True
    )
    suite_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    flaky: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

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
    """PNG of the page when a step failed; in the database so API and worker need no shared disk.

    A failing run also keeps one of the page as it ended (kind FINAL_SCREENSHOT, no step, so seq is NULL).
    """

    __tablename__ = "web_screenshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("web_runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(16), default=STEP_SCREENSHOT, server_default=STEP_SCREENSHOT)


# --- projects -------------------------------------------------------------------------------


class Project(OwnedColumns, Base):
    """A Selenium IDE project: where it was recorded, its suites in order; its tests are Scripts.

    `suites` is a list of {name, parallel, persist_session, timeout_ms, script_ids} (script_ids in run order).
    """

    __tablename__ = "projects"

    base_url: Mapped[str] = mapped_column(String(2000), default="")
    side_id: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)  # the IDE's project id
    version: Mapped[str] = mapped_column(String(20), default="")
    suites: Mapped[list] = mapped_column(JSON, default=list)


class ProjectRun(Base):
    """One run of a project, or of one suite of it; its tests run as child Runs.

    `suites` is what it runs, fixed at the start (after `suite` and `filter`): a list of
    {name, parallel, persist_session, timeout_ms, tests: [{script_id, name}]}; `params` the request.
    `state` follows the children (project_runs.py) and is stored once they are all finished.
    """

    __tablename__ = "project_runs"
    __table_args__ = (
        list_index("project_runs"),
        # The few not finished yet: what ?state=queued|running lists, and a list settles first (project_run_lists.py).
        Index("ix_project_runs_unfinished", "created_at", sqlite_where=UNFINISHED, postgresql_where=UNFINISHED),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    project_id: Mapped[str | None] = target_reference("projects")
    project_name: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[str] = mapped_column(String(16), default=RunState.queued)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    suites: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stop_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


RUNS = RunKind(
    name="web",
    model=Run,
    target_model=Script,
    target_column=Run.script_id,
    children=(Screenshot, Step),
    task=names.WEB_RUN_SCRIPT,
    queue=names.WEB_QUEUE,
    target_noun="script",
    cleanup_task=names.WEB_CLEANUP_OLD_RESULTS,
    reap_task=names.WEB_REAP_STUCK_RUNS,
    standalone=Run.project_run_id.is_(None),
)
