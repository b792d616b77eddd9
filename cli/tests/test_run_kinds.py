"""What is new between two looks at a run, and what failed in it (pure logic over the API's JSON)."""

from testfleet_cli.run_kinds import LoadRun, ProjectRun, WebRun


def web_run(state, steps):
    return {"run_id": "r1", "script_name": "login", "script_id": "s1", "state": state, "steps": steps, "error": None}


def step(index, state="passed", error=None):
    return {"index": index, "command": "click", "target": "id=go", "state": state, "duration_ms": 5, "error": error}


def test_a_web_run_reports_each_step_once_and_each_state_change():
    run = WebRun("r1")
    first = run.events(None, web_run("running", [step(0)]))
    assert [e["event"] for e in first] == ["state", "step"]
    second = run.events(web_run("running", [step(0)]), web_run("failed", [step(0), step(1, "failed", "nope")]))
    assert [(e["event"], e.get("index"), e["state"]) for e in second] == [  # the last step, then its verdict
        ("step", 1, "failed"),
        ("state", None, "failed"),
    ]
    assert run.events(web_run("failed", [step(0)]), web_run("failed", [step(0)])) == []


def test_a_failed_web_run_names_its_failing_command():
    [failure] = WebRun("r1").failures(web_run("failed", [step(0), step(1, "failed", "Element id=go not found")]))
    assert failure.state == "failed" and failure.message == "command 1 (click id=go): Element id=go not found"
    assert WebRun("r1").failures(web_run("passed", [step(0)])) == []


def project_run(state, attempts):
    test = {"name": "login", "run_id": attempts[-1]["run_id"], "state": attempts[-1]["state"], "attempts": attempts}
    return {"id": "p1", "project_name": "shop", "state": state, "counts": {}, "total": 1,
            "suites": [{"name": "smoke", "tests": [test]}]}  # fmt: skip


def test_a_project_run_reports_each_finished_attempt_once():
    run = ProjectRun("p1")
    first = {"run_id": "a1", "attempt": 1, "state": "failed", "error": {"code": "assertion_failed", "message": "x"}}
    retry = {"run_id": "a2", "attempt": 2, "state": "running"}
    seen = run.events(None, project_run("running", [first, retry]))
    tests = [e for e in seen if e["event"] == "test"]
    assert [(e["run_id"], e["state"], e["final"]) for e in tests] == [("a1", "failed", False)]
    done = {**retry, "state": "passed", "flaky": True}
    later = run.events(project_run("running", [first, retry]), project_run("passed", [first, done]))
    assert [(e["run_id"], e["state"], e["final"], e["flaky"]) for e in later if e["event"] == "test"] == [
        ("a2", "passed", True, True)
    ]
    assert run.failures(project_run("passed", [first, done])) == []


def test_a_load_run_names_each_missed_threshold():
    thresholds = [{"name": "p95_ms", "limit": 100, "actual": 250.5, "passed": False},
                  {"name": "max_failure_ratio", "limit": 0.01, "actual": 0.0, "passed": True}]  # fmt: skip
    snapshot = {"run_id": "l1", "scenario_name": "home", "state": "failed", "thresholds": thresholds}
    [failure] = LoadRun("l1").failures(snapshot)
    assert failure.title == "home / p95_ms" and failure.message == "p95_ms: 250.5 (limit 100)"
