"""execute_run on a fake browser: what a finished run leaves in the database (the real browser: *_e2e.py)."""

from __future__ import annotations

from functools import partial

import pytest
from runner.fake_driver import PNG, FakeBrowser, FakeElement
from sqlalchemy import select

from shared.redis_client import redis_from_url
from shared.runs.states import RunState
from web_test_service import execution
from web_test_service.execution import execute_run
from web_test_service.models import FINAL_SCREENSHOT, STEP_SCREENSHOT, Run, Screenshot, Script
from web_test_service.runner import run_script

pytestmark = pytest.mark.timeout(60)
BASE = "http://app.test"


def run_on_fake_browser(app, settings, commands: list[dict]) -> tuple[Run, list[tuple[str, int | None, bytes]]]:
    """Queue a run of commands, execute it on a fake browser; the run row and its (kind, seq, png) screenshots."""
    sessions = app.extensions["db"].session_factory
    with sessions() as session:
        script = Script(owner="alice", name="s", base_url=BASE, commands=commands, timeout_ms=30_000, suites=[])
        session.add(script)
        session.flush()
        run = Run(owner="alice", script_id=script.id, script_name="s", state=RunState.queued, time_limit_s=30,
                  base_url=BASE, variables={}, progress_total=len(commands))  # fmt: skip
        session.add(run)
        session.commit()
        run_id = run.id
    browser = FakeBrowser()
    browser.driver.add_page(f"{BASE}/", "Home", FakeElement("h1", "Home", id="title"))
    redis = redis_from_url(settings.redis_url)
    try:
        execute_run(run_id, sessions=sessions, redis=redis, driver_factory=browser.factory)
    finally:
        redis.close()
    with sessions() as session:
        shots = session.execute(
            select(Screenshot.kind, Screenshot.seq, Screenshot.png).where(Screenshot.run_id == run_id)
        ).all()
        return session.get(Run, run_id), [tuple(shot) for shot in shots]


def cmd(command: str, target: str = "", value: str = "") -> dict:
    return {"command": command, "target": target, "value": value}


def test_a_failed_run_is_saved_with_its_step_and_final_screenshots(app, settings):
    run, shots = run_on_fake_browser(app, settings, [cmd("open", "/"), cmd("assertText", "id=title", "Away")])
    assert run.state == RunState.failed and run.error["code"] == "assertion_failed", run.error
    assert sorted(shots, key=str) == sorted([(STEP_SCREENSHOT, 1, PNG), (FINAL_SCREENSHOT, None, PNG)], key=str)


def test_a_click_that_finds_nothing_is_saved_as_an_error(app, settings, monkeypatch):
    monkeypatch.setattr(execution, "run_script", partial(run_script, implicit_wait_ms=50))  # not 15 s
    run, shots = run_on_fake_browser(app, settings, [cmd("open", "/"), cmd("click", "id=missing-element")])
    assert run.state == RunState.error, run.error
    assert run.error == {"code": "command_failed", "message": "Element id=missing-element not found"}
    assert run.result["failed_step"] == 1 and (STEP_SCREENSHOT, 1, PNG) in shots


def test_a_passed_run_is_saved_without_a_screenshot(app, settings):
    run, shots = run_on_fake_browser(app, settings, [cmd("open", "/"), cmd("assertText", "id=title", "Home")])
    assert run.state == RunState.passed and shots == []
