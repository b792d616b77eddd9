"""Selenium IDE projects: import a .side, re-import it keeping each test's script, read, delete; they commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.auth import User, load_owned, owner_filter
from shared.db import new_id
from shared.errors import BadRequest, Conflict, Unprocessable, validation_details
from shared.host_policy import HostPolicy
from shared.runs.states import ACTIVE_STATES
from web_test_service.models import Project, Run, Script
from web_test_service.runner.validation import is_unsupported
from web_test_service.schemas import ScriptCreate
from web_test_service.service import script_problems
from web_test_service.side_import import (
    SideProject,
    SideProjectError,
    document_order,
    problem_message,
    read_side_project,
)

# Tests per imported project: far above a real Selenium IDE project, far below what would outlast a request
# (20,000 tests took 10 s to import; 10 MB of tests would be killed by the worker timeout, a 502).
MAX_IMPORT_TESTS = 1000
# Problems a refused import lists: all of a real project's, a bounded answer for 1000 tests of 5000 bad commands.
MAX_LISTED_PROBLEMS = 1000


@dataclass(frozen=True)
class ImportLimits:
    """What an import is checked against: the longest run (WEB_MAX_RUN_SECONDS) and WEB_ALLOWED_HOSTS."""

    max_timeout_ms: int
    policy: HostPolicy | None = None


@dataclass(frozen=True)
class ImportedTest:
    """A test of a .side that can be saved: the IDE's id, its script, its suites' names, why it cannot run."""

    side_id: str
    data: ScriptCreate
    suites: list[str]
    unrunnable: dict | None


@dataclass(frozen=True)
class Imported:
    """A .side read and checked: the project as the IDE wrote it, and its tests in suite order."""

    side: SideProject
    tests: list[ImportedTest]


# --- reading a .side ------------------------------------------------------------------------


def load_project(raw: str | bytes | dict, max_timeout_ms: int) -> SideProject:
    """Parse a .side project; 422 (or 400 for nesting too deep) naming what is wrong; its references unchecked."""
    try:
        project = read_side_project(raw, max_timeout_ms=max_timeout_ms)
    except SideProjectError as exc:
        raise Unprocessable(str(exc), details=exc.details) from None
    except RecursionError:
        raise BadRequest("the .side project is nested too deeply", code="invalid_json") from None
    if len(project.scripts) > MAX_IMPORT_TESTS:
        message = f"a project may have at most {MAX_IMPORT_TESTS} tests, this one has {len(project.scripts)}"
        raise Unprocessable(message, details=[{"field": "tests", "message": message}])
    return project


def _checked_test(item: dict, limits: ImportLimits) -> tuple[ScriptCreate | None, list[dict]]:
    """One imported test as a script, and its problems (fields relative to the script)."""
    body = {k: item[k] for k in ("name", "base_url", "commands", "timeout_ms") if k in item}
    try:
        data = ScriptCreate.model_validate(body)
    except ValidationError as exc:
        return None, validation_details(exc)
    return data, script_problems(data, limits.max_timeout_ms, limits.policy)


def _refused_import(problems: list[tuple[str, dict]]) -> Unprocessable:
    """One 422 for every (message, detail) problem, in the order of the document; the message is the first's."""
    problems = sorted(problems, key=lambda pair: document_order(pair[1]))
    details = [detail for _, detail in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        details.append({"field": "project", "message": f"{len(problems) - len(details)} more problems not listed"})
    return Unprocessable(problems[0][0], details=details)


def read_import(raw: str | bytes | dict, limits: ImportLimits) -> Imported:
    """Parse a .side and check every test, saving nothing.

    A test with an unsupported command is kept, not runnable; any other problem of any test refuses the
    whole project with one 422 listing them all, by their place in the document.
    """
    side = load_project(raw, limits.max_timeout_ms)
    problems = [(problem_message(found), found) for found in side.problems]  # (message, detail)
    tests = []
    for item in side.scripts:
        data, found = _checked_test(item, limits)
        where = f"tests.{item['side_position']}"  # the test's place in the .side document
        for detail in (p for p in found if not is_unsupported(p)):
            detail = {**detail, "field": f"{where}.{detail['field']}"}
            problems.append((f"test '{item['name']}': {detail['field']}: {detail['message']}", detail))
        if data is not None:
            unsupported = next((p for p in found if is_unsupported(p)), None)
            suites = [suite["name"] for suite in item.get("suites") or []]
            tests.append(ImportedTest(item["side_id"], data, suites, unsupported))
    if problems:
        raise _refused_import(problems)
    return Imported(side, tests)


# --- keeping it -----------------------------------------------------------------------------


def _write(project: Project, imported: Imported, scripts: list[Script]) -> None:
    """Set the project and its scripts (one per imported test, in order) to what the .side says."""
    side = imported.side
    project.name, project.base_url, project.side_id = side.name, side.base_url, side.side_id
    project.version = side.version
    for position, (test, script) in enumerate(zip(imported.tests, scripts, strict=True)):
        data = test.data
        script.name, script.base_url, script.timeout_ms = data.name, data.base_url, data.timeout_ms
        script.commands, script.suites, script.unrunnable = data.command_dicts(), test.suites, test.unrunnable
        script.project_id, script.project_name, script.position = project.id, side.name, position
        script.side_id = test.side_id
    script_of = {test.side_id: script.id for test, script in zip(imported.tests, scripts, strict=True)}
    project.suites = [
        {
            "name": suite["name"],
            "parallel": suite["parallel"],
            "persist_session": suite["persist_session"],
            "timeout_ms": suite["timeout_ms"],
            "script_ids": [script_of[test_id] for test_id in suite["test_ids"]],
        }
        for suite in side.suites
    ]


def _create(session: Session, user: User, raw: str | bytes | dict, limits: ImportLimits):
    """Insert a project and one script per test; all or nothing. Returns (project, scripts, the .side read)."""
    imported = read_import(raw, limits)
    project = Project(id=new_id(), owner=user.id)
    scripts = [Script(id=new_id(), owner=user.id) for _ in imported.tests]
    _write(project, imported, scripts)
    session.add(project)
    session.flush()  # the project's row before the scripts that reference it
    session.add_all(scripts)
    session.commit()  # one transaction: the project and every test, or none when the commit fails
    return project, scripts, imported.side


def create_project(*, session: Session, user: User, raw: str | bytes | dict, limits: ImportLimits) -> dict[str, Any]:
    """Import a .side as a new project owned by the user: {project, suites, scripts, warnings} (ProjectImport)."""
    project, scripts, side = _create(session, user, raw, limits)
    return project_detail(project, scripts) | {"warnings": side.warnings}


def import_scripts(*, session: Session, user: User, raw: str | bytes | dict, limits: ImportLimits) -> dict[str, Any]:
    """Import a .side as a new project, answered as /scripts/import always has (ImportedProject)."""
    project, scripts, side = _create(session, user, raw, limits)
    answer = {"items": scripts, "total": len(scripts), "project_id": project.id, "warnings": side.warnings}
    return answer | {"project": {"name": side.name, "suites": side.suites}}


def _match(owner: str, existing: list[Script], tests: list[ImportedTest]) -> tuple[list[Script], list[Script]]:
    """The script each test keeps (new ones for new tests), and the scripts no test kept.

    A test keeps the script of its IDE test id; a script saved before projects kept those ids has none
    and is kept by the first test of its name.
    """
    by_side_id = {script.side_id: script for script in existing if script.side_id is not None}
    without_id = [script for script in existing if script.side_id is None]
    kept = []
    for test in tests:
        script = by_side_id.pop(test.side_id, None)
        if script is None:
            script = next((s for s in without_id if s.name == test.data.name), None)
            if script is not None:
                without_id.remove(script)
        kept.append(script if script is not None else Script(id=new_id(), owner=owner))
    return kept, [*by_side_id.values(), *without_id]


def _refuse_active_runs(session: Session, scripts: list[Script], what: str) -> None:
    """409 when one of the scripts, which deleting `what` would delete, has a queued or running run."""
    if not scripts:
        return
    active = [state.value for state in ACTIVE_STATES]
    query = select(Run.script_id).where(Run.script_id.in_([s.id for s in scripts]), Run.state.in_(active))
    busy = set(session.execute(query).scalars())
    if busy:
        names = sorted(script.name for script in scripts if script.id in busy)
        details = [{"script_id": script_id} for script_id in sorted(busy)]
        listed = ", ".join(repr(name) for name in names)
        raise Conflict(f"cannot delete {what} while a run of {listed} is active; stop it first", details=details)


def reimport_project(
    *, session: Session, user: User, project_id: str, raw: str | bytes | dict, limits: ImportLimits
) -> dict[str, Any]:
    """Replace a project with an updated .side, keeping each test's script (and its runs) by IDE test id.

    Changed tests are updated, new ones created, the scripts of tests no longer in the project deleted (409
    while one of them has an active run); the suites are replaced. One transaction: all or nothing.
    """
    project = get_project(session=session, user=user, project_id=project_id, write=True)
    imported = read_import(raw, limits)
    scripts, removed = _match(project.owner, project_scripts(session, project.id), imported.tests)
    _refuse_active_runs(session, removed, "the tests the new .side no longer has")
    for script in removed:
        session.delete(script)
    _write(project, imported, scripts)
    session.add_all(scripts)
    session.commit()
    return project_detail(project, scripts) | {"warnings": imported.side.warnings}


# --- reading and deleting -------------------------------------------------------------------


def projects_query(user: User, *, side_id: str | None = None):
    """Projects the user may read, oldest first; only those of the IDE's project id side_id, if given."""
    query = owner_filter(select(Project), Project.owner, user)
    if side_id is not None:
        query = query.where(Project.side_id == side_id)
    return query.order_by(Project.created_at, Project.id)


def get_project(*, session: Session, user: User, project_id: str, write: bool = False) -> Project:
    """Load a project the user may read (or change); 404 otherwise."""
    return load_owned(session, Project, project_id, user, "project", write=write)


def project_scripts(session: Session, project_id: str) -> list[Script]:
    """The project's scripts in run order (suite order, then tests in no suite)."""
    query = select(Script).where(Script.project_id == project_id).order_by(Script.position, Script.id)
    return list(session.execute(query).scalars())


def project_detail(project: Project, scripts: list[Script]) -> dict[str, Any]:
    """{project, suites, scripts} (ProjectDetail); a suite lists only scripts that still exist."""
    existing = {script.id for script in scripts}
    suites = [{**suite, "script_ids": [i for i in suite["script_ids"] if i in existing]} for suite in project.suites]
    return {"project": project, "suites": suites, "scripts": scripts}


def read_project(*, session: Session, user: User, project_id: str) -> dict[str, Any]:
    """A project the user may read, with its suites and scripts; 404 otherwise."""
    project = get_project(session=session, user=user, project_id=project_id)
    return project_detail(project, project_scripts(session, project.id))


def delete_project(*, session: Session, user: User, project_id: str) -> None:
    """Delete a project and its scripts (their runs stay in history); 409 while one of them has an active run."""
    project = get_project(session=session, user=user, project_id=project_id, write=True)
    scripts = project_scripts(session, project.id)
    _refuse_active_runs(session, scripts, "the project")
    for script in scripts:
        session.delete(script)
    session.flush()  # the scripts' rows before the project they reference
    session.delete(project)
    session.commit()
