"""A run's artifacts and a script's recent verdicts through the API, on rows written as the worker writes them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import event

from shared.db import utcnow
from shared.runs.states import RunState
from web_test_service.models import FINAL_SCREENSHOT, Run, Screenshot, Script, Step

pytestmark = pytest.mark.timeout(60)
API = "/api/v1/web-test"
PNG_STEP, PNG_FINAL = b"\x89PNG\r\n\x1a\nstep", b"\x89PNG\r\n\x1a\nfinal page"
CONSOLE = [
    {"level": "SEVERE", "message": 'http://site/console.html 5:10 "boom"', "source": "console-api", "timestamp": 1},
    {"level": "SEVERE", "message": "http://site/favicon.ico - Failed to load resource", "source": "network",
     "timestamp": 2},
]  # fmt: skip


@pytest.fixture()
def session(app):
    with app.extensions["db"].session_factory() as session:
        yield session


def add_script(session, owner="alice") -> Script:
    script = Script(owner=owner, name="s", base_url="", commands=[], timeout_ms=1000, suites=[])
    session.add(script)
    session.commit()
    return script


def add_run(session, script, *, state=RunState.failed, finished_ago_s=0.0, final=True, console=CONSOLE) -> Run:
    """A finished run as the worker leaves it: step 1 failed with a screenshot, a console log, a final screenshot."""
    finished = utcnow() - timedelta(seconds=finished_ago_s)
    run = Run(owner=script.owner, script_id=script.id, script_name=script.name, state=state, priority=5, attempts=1,
              base_url="", variables={}, created_at=finished - timedelta(seconds=2),
              started_at=finished - timedelta(seconds=1.5), finished_at=finished,
              result={"message": None, "console_log": console, "echo_log": [], "variables": {}})  # fmt: skip
    session.add(run)
    session.flush()
    failing = state in (RunState.failed, RunState.error)
    for seq, step_state in enumerate(["passed", "failed" if failing else "passed"]):
        has_screenshot = step_state == "failed"
        session.add(Step(run_id=run.id, seq=seq, index=seq, command="open", target="/", value="", state=step_state,
                         duration_ms=1, has_screenshot=has_screenshot))  # fmt: skip
        if has_screenshot:
            session.add(Screenshot(run_id=run.id, seq=seq, png=PNG_STEP))
    if final and failing:
        session.add(Screenshot(run_id=run.id, kind=FINAL_SCREENSHOT, png=PNG_FINAL))
    session.commit()
    return run


def test_a_failing_run_lists_and_serves_its_step_screenshot_console_log_and_final_screenshot(
    client, auth_header, session
):
    run = add_run(session, add_script(session))
    alice = auth_header("tester", "alice")
    listed = client.get(f"{API}/runs/{run.id}/artifacts", headers=alice)
    assert listed.status_code == 200, listed.json
    items = listed.json["items"]
    console_body = client.get(f"{API}/runs/{run.id}/console.json", headers=alice)
    assert items == [
        {"name": "step-1.png", "kind": "screenshot", "content_type": "image/png", "size": len(PNG_STEP),
         "step_index": 1, "url": f"{API}/runs/{run.id}/steps/1/screenshot"},
        {"name": "console.json", "kind": "console_log", "content_type": "application/json",
         "size": len(console_body.data), "step_index": None, "url": f"{API}/runs/{run.id}/console.json"},
        {"name": "final-screenshot.png", "kind": "final_screenshot", "content_type": "image/png",
         "size": len(PNG_FINAL), "step_index": None, "url": f"{API}/runs/{run.id}/final-screenshot.png"},
    ]  # fmt: skip
    for item in items:
        got = client.get(item["url"], headers=alice)
        assert got.status_code == 200 and got.mimetype == item["content_type"] and len(got.data) == item["size"]
    assert client.get(items[0]["url"], headers=alice).data == PNG_STEP
    assert client.get(items[2]["url"], headers=alice).data == PNG_FINAL
    assert json.loads(console_body.data) == {"entries": CONSOLE}
    assert client.get(f"{API}/runs/{run.id}", headers=alice).json["artifacts_url"] == f"{API}/runs/{run.id}/artifacts"


def test_a_passing_run_has_no_final_screenshot_and_absent_artifacts_are_404_json(client, auth_header, session):
    script = add_script(session)
    passed = add_run(session, script, state=RunState.passed, console=[])
    alice = auth_header("tester", "alice")
    assert client.get(f"{API}/runs/{passed.id}/artifacts", headers=alice).json == {"items": []}
    # A step index beyond any database integer (Schemathesis found the 500 it was on PostgreSQL).
    huge = "steps/6184326583984837195221185738785685504/screenshot"
    for path in ("final-screenshot.png", "console.json", "steps/1/screenshot", huge):
        missing = client.get(f"{API}/runs/{passed.id}/{path}", headers=alice)
        assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found", path
    # A final screenshot is not a step's: it is never served as one.
    failed = add_run(session, script, final=True)
    session.execute(Step.__table__.update().where(Step.run_id == failed.id).values(has_screenshot=False))
    session.query(Screenshot).filter(Screenshot.run_id == failed.id, Screenshot.seq.is_not(None)).delete()
    session.commit()
    kinds = [item["kind"] for item in client.get(f"{API}/runs/{failed.id}/artifacts", headers=alice).json["items"]]
    assert kinds == ["console_log", "final_screenshot"]
    assert client.get(f"{API}/runs/{failed.id}/steps/0/screenshot", headers=alice).status_code == 404


def test_a_console_log_saved_before_sources_were_kept_is_served_with_null_sources(client, auth_header, session):
    run = add_run(session, add_script(session), console=[{"level": "INFO", "message": "old", "timestamp": 5}])
    got = client.get(f"{API}/runs/{run.id}/console.json", headers=auth_header("tester", "alice"))
    assert got.status_code == 200
    assert got.json == {"entries": [{"level": "INFO", "message": "old", "source": None, "timestamp": 5}]}


def test_artifacts_are_the_runs_readers_only(client, auth_header, session):
    run = add_run(session, add_script(session))
    paths = ["artifacts", "console.json", "final-screenshot.png", "steps/1/screenshot"]
    for who in (auth_header("viewer", "victor"), auth_header("admin", "ada"), auth_header("tester", "alice")):
        assert [client.get(f"{API}/runs/{run.id}/{path}", headers=who).status_code for path in paths] == [200] * 4
    bob = auth_header("tester", "bob")
    for path in paths:
        hidden = client.get(f"{API}/runs/{run.id}/{path}", headers=bob)
        assert hidden.status_code == 404 and hidden.json["error"]["code"] == "not_found", path
        assert client.get(f"{API}/runs/{run.id}/{path}").status_code == 401


def test_the_openapi_document_describes_the_artifacts_and_their_content_types(client):
    paths = client.get(f"{API}/openapi.json").json["paths"]
    listed = paths[f"{API}/runs/{{run_id}}/artifacts"]["get"]["responses"]
    assert listed["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ArtifactList"}
    assert "404" in listed
    console = paths[f"{API}/runs/{{run_id}}/console.json"]["get"]["responses"]["200"]["content"]
    assert console["application/json"]["schema"] == {"$ref": "#/components/schemas/ConsoleLog"}
    final = paths[f"{API}/runs/{{run_id}}/final-screenshot.png"]["get"]["responses"]
    assert list(final["200"]["content"]) == ["image/png"] and "404" in final
    detail = paths[f"{API}/scripts/{{script_id}}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert detail["schema"] == {"$ref": "#/components/schemas/ScriptDetail"}


# --- recent verdicts ------------------------------------------------------------------------------


def test_a_script_shows_its_last_20_verdicts_newest_first(client, auth_header, session, app):
    script, other = add_script(session), add_script(session)
    states = [RunState.passed, RunState.failed, RunState.error, RunState.stopped]
    runs = [add_run(session, script, state=states[i % 4], finished_ago_s=100 - i) for i in range(22)]  # oldest first
    add_run(session, other, finished_ago_s=0)  # another script's
    session.add(Run(owner="alice", script_id=script.id, script_name="s", state=RunState.running, priority=5,
                    attempts=1, base_url="", variables={}, started_at=utcnow()))  # fmt: skip
    session.commit()
    statements: list[str] = []
    engine = app.extensions["db"].engine

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        read = client.get(f"{API}/scripts/{script.id}", headers=auth_header("viewer", "victor"))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert read.status_code == 200, read.json
    recent = read.json["recent"]
    newest = list(reversed(runs))[:20]
    assert [verdict["run_id"] for verdict in recent] == [run.id for run in newest]
    assert [verdict["state"] for verdict in recent] == [run.state for run in newest]
    assert set(recent[0]) == {"run_id", "state", "finished_at", "duration_ms"}
    assert recent[0]["duration_ms"] == 1500 and recent[0]["finished_at"].endswith(("Z", "+00:00"))
    assert len([s for s in statements if "FROM web_runs" in s]) == 1, statements
    fresh = client.get(f"{API}/scripts/{other.id}", headers=auth_header("tester", "alice")).json["recent"]
    assert len(fresh) == 1
    listed = client.get(f"{API}/scripts", headers=auth_header("tester", "alice")).json["items"]
    assert len(listed) == 2 and not any("recent" in item for item in listed)  # the single GET only
