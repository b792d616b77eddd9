"""Lanes on a fake browser: order, retries, one session for persistSession, handing over past the budget.

The real browser and worker: test_project_runs_e2e.py.
"""

from __future__ import annotations

import json
from functools import partial

import pytest
from junitparser import Error, JUnitXml
from junitparser.xunit2 import TestCase as XUnit2Case
from runner.fake_driver import FakeBrowser, FakeElement
from sqlalchemy import select

from shared import names
from shared.broker import priority_queue_keys
from shared.celery_factory import make_celery
from shared.redis_client import redis_from_url
from shared.runs.states import RunState
from web_test_service import execution, project_runs
from web_test_service.junit import build_project_junit_xml
from web_test_service.lanes import LaneWorker, run_lane
from web_test_service.models import Project, ProjectRun, Run, Script
from web_test_service.project_junit import junit_suites
from web_test_service.runner import run_script
from web_test_service.schemas import ProjectRunRequest

pytestmark = pytest.mark.timeout(60)
BASE = "http://app.test"
PASSES = [{"command": "open", "target": "/"}, {"command": "assertText", "target": "id=title", "value": "Home"}]
FAILS = [{"command": "open", "target": "/"}, {"command": "assertText", "target": "id=title", "value": "Away"}]
ERRS = [{"command": "open", "target": "/"}, {"command": "click", "target": "id=missing-element"}]


@pytest.fixture()
def sessions(app):
    return app.extensions["db"].session_factory


@pytest.fixture()
def redis(settings):
    client = redis_from_url(settings.redis_url)
    yield client
    client.close()


def started_project_run(sessions, settings, tests, *, persist=False, retries=0):
    """A project of one sequential suite of (name, commands) tests, started (its lane message sent, not run)."""
    with sessions() as session:
        project = Project(owner="alice", name="p", base_url=BASE, suites=[])
        scripts = [Script(owner="alice", name=name, base_url=BASE, commands=commands, timeout_ms=30_000, suites=["s"])
                   for name, commands in tests]  # fmt: skip
        session.add(project)
        session.flush()
        for position, script in enumerate(scripts):
            script.project_id, script.position = project.id, position
        session.add_all(scripts)
        session.flush()
        project.suites = [{"name": "s", "parallel": False, "persist_session": persist, "timeout_ms": 30_000,
                           "script_ids": [script.id for script in scripts]}]  # fmt: skip
        session.commit()
        request = ProjectRunRequest(retries=retries, base_url=BASE)
        celery = make_celery("lanes-test", settings)
        run = project_runs.start_project_run(session=session, celery=celery, project=project, scripts=scripts,
                                             request=request, lane_budget_s=settings.lane_budget_s)  # fmt: skip
        return run.id


def fake_browsers():
    """A driver_factory that hands out a new FakeBrowser (with the home page) each call; the browsers started."""
    started: list[FakeBrowser] = []

    def factory():
        browser = FakeBrowser()
        browser.driver.add_page(f"{BASE}/", "Home", FakeElement("h1", "Home", id="title"))
        started.append(browser)
        return browser

    return factory, started


def attempts(sessions, project_run_id):
    with sessions() as session:
        query = select(Run.position, Run.attempt, Run.state, Run.flaky).where(Run.project_run_id == project_run_id)
        return [tuple(row) for row in session.execute(query.order_by(Run.position, Run.attempt))]


def test_a_lane_runs_its_tests_in_order_each_in_a_browser_of_its_own(sessions, redis, settings):
    project_run_id = started_project_run(sessions, settings, [("a", PASSES), ("b", FAILS), ("c", PASSES)])
    factory, started = fake_browsers()
    states = run_lane(project_run_id, 0, [0, 1, 2], LaneWorker(sessions, redis, factory, task_id="lane"))
    assert states == ["passed", "failed", "passed"]
    assert len(started) == 3 and all(browser.driver.quit_called for browser in started)
    with sessions() as session:
        query = select(Run.started_at, Run.finished_at).where(Run.project_run_id == project_run_id)
        spans = session.execute(query.order_by(Run.position)).all()
        assert all(spans[i].finished_at <= spans[i + 1].started_at for i in range(2))
        assert project_runs.refresh_state(session, session.get(ProjectRun, project_run_id)) == "failed"


def test_a_persist_session_lane_shares_one_browser_and_closes_it(sessions, redis, settings):
    project_run_id = started_project_run(sessions, settings, [("a", PASSES), ("b", PASSES)], persist=True)
    factory, started = fake_browsers()
    assert run_lane(project_run_id, 0, [0, 1], LaneWorker(sessions, redis, factory, "lane")) == ["passed", "passed"]
    assert len(started) == 1 and started[0].driver.quit_called


def test_a_failed_test_is_retried_at_once_and_every_attempt_kept(sessions, redis, settings):
    project_run_id = started_project_run(sessions, settings, [("a", FAILS), ("b", PASSES)], retries=2)
    factory, _ = fake_browsers()
    assert run_lane(project_run_id, 0, [0, 1], LaneWorker(sessions, redis, factory, "lane")) == ["failed", "passed"]
    assert attempts(sessions, project_run_id) == [
        (0, 1, "failed", False), (0, 2, "failed", False), (0, 3, "failed", False), (1, 1, "passed", False)
    ]  # fmt: skip


def test_a_test_that_errs_is_retried_and_errs_the_project_run(sessions, redis, settings, monkeypatch):
    """A click that finds nothing: `error` (command_failed), retried like a failure, an <error> in the JUnit."""
    monkeypatch.setattr(execution, "run_script", partial(run_script, implicit_wait_ms=50))  # not 15 s an attempt
    tests = [("a", FAILS), ("b", ERRS), ("c", PASSES)]
    project_run_id = started_project_run(sessions, settings, tests, retries=1)
    factory, _ = fake_browsers()
    assert run_lane(project_run_id, 0, [0, 1, 2], LaneWorker(sessions, redis, factory, "lane")) == [
        "failed", "error", "passed"
    ]  # fmt: skip
    assert attempts(sessions, project_run_id) == [
        (0, 1, "failed", False), (0, 2, "failed", False), (1, 1, "error", False), (1, 2, "error", False),
        (2, 1, "passed", False),
    ]  # fmt: skip
    with sessions() as session:
        project_run = session.get(ProjectRun, project_run_id)
        assert project_runs.refresh_state(session, project_run) == "error"  # failed < error
        codes = session.execute(select(Run.error).where(Run.project_run_id == project_run_id, Run.position == 1))
        assert [error["code"] for (error,) in codes] == ["command_failed", "command_failed"]
        xml = build_project_junit_xml(junit_suites(session, project_run, "http://testfleet.test"), name="p")
    (suite,) = JUnitXml.fromstring(xml.encode())
    assert (suite.tests, suite.failures, suite.errors) == (3, 1, 1)
    errs = XUnit2Case.fromelem(next(case for case in suite if case.name == "b"))
    assert isinstance(errs.result[0], Error) and "Element id=missing-element not found" in errs.result[0].message
    assert len(errs.rerun_errors()) == 1 and not errs.rerun_failures()  # the first attempt


def test_a_lane_past_its_budget_hands_the_rest_to_a_new_task(sessions, redis, settings):
    project_run_id = started_project_run(sessions, settings, [("a", PASSES), ("b", PASSES), ("c", PASSES)])
    factory, _ = fake_browsers()
    handed: list[list[int]] = []
    worker = LaneWorker(sessions, redis, factory, "lane", budget_s=0, hand_over=handed.append)
    assert run_lane(project_run_id, 0, [0, 1, 2], worker) == ["passed"]  # the first attempt always runs
    assert handed == [[1, 2]]

    celery = make_celery("lanes-test", settings)
    project_runs.continue_lane(sessions, celery, project_run_id, 0, [1, 2], settings.lane_budget_s)
    with sessions() as session:
        query = select(Run.position, Run.state, Run.task_id).where(Run.project_run_id == project_run_id)
        rows = session.execute(query.order_by(Run.position)).all()
    (first, *rest) = rows
    assert first.state == RunState.passed and {row.state for row in rest} == {RunState.queued}
    new_task = {row.task_id for row in rest}
    assert len(new_task) == 1 and new_task != {first.task_id}
    messages = [json.loads(raw)["headers"] for key in priority_queue_keys(names.WEB_QUEUE)
                for raw in redis.lrange(key, 0, -1)]  # fmt: skip
    sent = [m for m in messages if m["id"] in new_task]
    assert len(sent) == 1 and sent[0]["task"] == names.WEB_RUN_LANE and sent[0]["argsrepr"].endswith(", 0, [1, 2]]")
