"""A run's artifacts: its failed steps' screenshots, its browser console log and its final screenshot."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared import paths
from shared.errors import NotFound
from web_test_service.models import FINAL_SCREENSHOT, STEP_SCREENSHOT, Run, Screenshot, Step
from web_test_service.schemas import MAX_COMMANDS, Artifact, ArtifactKind, ConsoleLog

PNG, JSON = "image/png", "application/json"
CONSOLE_LOG_NAME, FINAL_SCREENSHOT_NAME = "console.json", "final-screenshot.png"


def list_artifacts(*, session: Session, run: Run) -> list[Artifact]:
    """Every artifact of the run: step screenshots by index, then the console log, then the final screenshot.

    One query for the screenshots' sizes (the PNGs are not loaded). A command a loop ran several times has one
    entry, the first screenshot, as its URL serves it.
    """
    query = (
        select(Screenshot.kind, Step.index, func.length(Screenshot.png))
        .outerjoin(Step, (Step.run_id == Screenshot.run_id) & (Step.seq == Screenshot.seq))
        .where(Screenshot.run_id == run.id)
        .order_by(Screenshot.seq, Screenshot.id)
    )
    steps: dict[int, Artifact] = {}
    final: list[Artifact] = []
    for kind, index, size in session.execute(query):
        if kind == FINAL_SCREENSHOT:
            final = [png_artifact(FINAL_SCREENSHOT_NAME, "final_screenshot", size, paths.web_final_screenshot(run.id))]
        elif kind == STEP_SCREENSHOT and index is not None and index not in steps:
            url = paths.web_screenshot(run.id, index)
            steps[index] = png_artifact(f"step-{index}.png", "screenshot", size, url, step_index=index)
    body, log = console_json(run), []
    if body:
        url = paths.web_console_log(run.id)
        log = [Artifact(name=CONSOLE_LOG_NAME, kind="console_log", content_type=JSON, size=len(body), url=url)]
    return [steps[index] for index in sorted(steps)] + log + final


def png_artifact(name: str, kind: ArtifactKind, size: int, url: str, step_index: int | None = None) -> Artifact:
    return Artifact(name=name, kind=kind, content_type=PNG, size=size, url=url, step_index=step_index)


def console_json(run: Run) -> bytes:
    """The run's browser console log as console.json serves it; empty while the run has no console entries."""
    entries = (run.result or {}).get("console_log") or []
    return ConsoleLog.model_validate({"entries": entries}).model_dump_json().encode() if entries else b""


def console_log(run: Run) -> bytes:
    """console.json of the run; 404 if it has no console entries (yet)."""
    body = console_json(run)
    if not body:
        raise NotFound(f"no console log for run {run.id}")
    return body


def step_screenshot(*, session: Session, run_id: str, index: int) -> bytes:
    """The screenshot of the step with this index (the command's position, as `failed_step` names it).

    A loop may have run the command several times; a soft (verify) failure leaves one screenshot per pass:
    this is the first, the one `failed_step` points at. Screenshots are stored by execution sequence.
    An index no script can have (beyond MAX_COMMANDS) is a 404 without a query: the database's integers end.
    """
    if index >= MAX_COMMANDS:
        raise NotFound(f"no screenshot for step {index} of run {run_id}")
    query = (
        select(Screenshot.png)
        .join(Step, (Step.run_id == Screenshot.run_id) & (Step.seq == Screenshot.seq))
        .where(Screenshot.run_id == run_id, Screenshot.kind == STEP_SCREENSHOT, Step.index == index)
        .order_by(Screenshot.seq)
        .limit(1)
    )
    png = session.execute(query).scalar_one_or_none()
    if png is None:
        raise NotFound(f"no screenshot for step {index} of run {run_id}")
    return png


def final_screenshot(*, session: Session, run_id: str) -> bytes:
    """The PNG of the page a failing run ended on; 404 for a run without one (passed, stopped, not finished)."""
    query = select(Screenshot.png).where(Screenshot.run_id == run_id, Screenshot.kind == FINAL_SCREENSHOT).limit(1)
    png = session.execute(query).scalar_one_or_none()
    if png is None:
        raise NotFound(f"no final screenshot for run {run_id}")
    return png
