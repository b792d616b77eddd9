"""Bad input never crashes a service: Schemathesis against every OpenAPI document, oversized and malformed bodies.

Schemathesis (CLI `st run`) runs through the gateway with a tester's token, in four passes per service:

* "random ids": every operation but the two that start work, path ids generated. Schemathesis also reuses the
  ids of what it created (POST /scripts etc.), so it reaches real resources too.
* "real ids": the path ids are a script, scenario and schedule the fuzzing user owns, so the fuzzer gets past
  the 404 into validation and serialisation. DELETE is excluded there (the resource would be gone at once).
* "job ids": only POST .../run and POST .../trigger, in a process that creates nothing, so their ids never
  exist (the 404 path).
* "active ids": the same two operations against a script, a scenario and a schedule that exist, so their bodies
  are validated and answered, not stopped at a 404. Each target already has a run in progress (a long pause, one
  Locust user against a local server), so every body that passes validation meets the 409 of "one active run per
  target" and no case starts work: an accepted case would be a real Chromium or Locust job (up to
  PERF_MAX_USERS users for PERF_MAX_RUN_TIME) flooding the workers the other suites measure. The pass asserts
  from its HAR record that no answer was a 404, that bodies were refused (422), that every trigger met the
  active run, and afterwards that the held runs are the only runs of their targets. It runs last, alone.

Checks: no 5xx, and every response matches the document (status code, content type, headers, body schema); and
`ignored_auth` (the fuzzer retries without the token and must get a 401). Not used: positive_data_acceptance and
negative_data_rejection (the services validate more than a JSON schema can say, e.g. Selenium command names and
cron expressions) and the Allow-header checks of undeclared methods (TRACE etc. are answered by nginx).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from shared.testing import wait_until
from tests.reliability.faults_helpers import ACTIVE, serve_ok

pytestmark = pytest.mark.timeout(420)

SERVICES = ("web-test", "perf-test", "scheduler")
# The console's API (accounts, tokens) starts no work: it takes the random and real passes only.
FUZZED = {"random": (*SERVICES, "auth"), "real": (*SERVICES, "auth"), "jobs": SERVICES, "active": SERVICES}
ST = Path(sys.executable).with_name("st")
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "ignored_auth",
    )
)
EXAMPLES = 15  # per operation and phase
BUDGET_S = {"random": 45, "real": 30, "jobs": 15, "active": 30}  # per service and pass; services run at once
# Passes of a batch run at once (at most six schemathesis processes); "active" goes last, alone, while its
# targets hold their runs, so no browser or Locust run competes with the other passes.
BATCHES = (("random",), ("real", "jobs"))
ACTIVE_BATCH = (("active",),)
STARTS_WORK = r"/(run|trigger)$"
FUZZ_USER = "fuzzer"
ACTIVE_USER = "fuzzer-active"  # owns the targets with a run in progress; the other passes cannot reach them
HELD_RUN_S = 240  # beyond the active pass at its deadline (BUDGET_S + 90 s); stopped at the end


def _st_command(platform, service: str, token: str, workdir: Path, mode: str) -> list[str]:
    """The `st run` command line of one pass over one service's document."""
    args = [str(ST), "run", f"{platform.gateway}/api/v1/{service}/openapi.json", "--url", platform.gateway,
            "-H", f"Authorization: Bearer {token}", "--checks", CHECKS, "-n", str(EXAMPLES),
            "--phases", "examples,coverage,fuzzing", "--max-time", str(BUDGET_S[mode]), "--no-shrink",
            "--seed", "7", "--workers", "1", "--request-timeout", "30", "--output-truncate", "false",
            "--report", "junit", "--report-junit-path", str(workdir / f"{service}-{mode}.xml")]  # fmt: skip
    if mode == "random":
        args += ["--exclude-path-regex", STARTS_WORK]
    elif mode == "real":
        args[1:1] = ["--config-file", str(workdir / "real-ids.toml")]  # a global option: before `run`
        args += ["--exclude-path-regex", STARTS_WORK, "--exclude-method", "DELETE"]
    elif mode == "active":
        args[1:1] = ["--config-file", str(workdir / "active-ids.toml")]
        args[args.index("--report") + 1] = "junit,har"  # the HAR file: every request and its answer
        args += ["--include-path-regex", STARTS_WORK, "--report-har-path", str(workdir / f"{service}-active.har")]
    else:
        args += ["--include-path-regex", STARTS_WORK]
    return args


def _own_resources(platform, headers) -> dict[str, str]:
    gw = platform.gateway
    script = requests.post(f"{gw}/api/v1/web-test/scripts", headers=headers, timeout=30,
                           json={"name": "fuzz", "base_url": "http://127.0.0.1:9",
                                 "commands": [{"command": "open", "target": "/"}]})  # fmt: skip
    scenario = requests.post(f"{gw}/api/v1/perf-test/scenarios", headers=headers, timeout=30,
                             json={"name": "fuzz", "host": "http://127.0.0.1:9",
                                   "requests": [{"path": "/"}]})  # fmt: skip
    schedule = requests.post(f"{gw}/api/v1/schedules", headers=headers, timeout=30,
                             json={"name": "fuzz", "cron": "0 3 1 1 *", "enabled": False,
                                   "target": {"kind": "web-test", "id": "no-such-script"}})  # fmt: skip
    for resp in (script, scenario, schedule):
        assert resp.status_code == 201, resp.text
    project_id = _unrunnable_project(platform, headers)
    project_run = _post(platform, headers, f"{WEB}/projects/{project_id}/run", {}, 202)
    return {
        "script_id": script.json()["id"],
        "scenario_id": scenario.json()["id"],
        "schedule_id": schedule.json()["id"],
        "project_id": project_id,
        "project_run_id": project_run["id"],
    }


def _unrunnable_project(platform, headers) -> str:
    """A project whose only test has a plugin command: a run of it is settled at once (error), no browser starts,
    so a fuzzed start that passes validation does no work."""
    test = {"id": "t", "name": "plugin", "commands": [{"command": "customClick", "target": "id=x"}]}
    side = {"version": "2.0", "name": "fuzz", "url": "http://127.0.0.1:9", "tests": [test],
            "suites": [{"id": "s", "name": "s", "tests": ["t"]}]}  # fmt: skip
    return _post(platform, headers, f"{WEB}/projects", side, 201)["project"]["id"]


WEB, PERF, SCHEDULES = "/api/v1/web-test", "/api/v1/perf-test", "/api/v1/schedules"


def _post(platform, headers, path: str, body: dict, status: int) -> dict:
    resp = requests.post(platform.gateway + path, headers=headers, json=body, timeout=30)
    assert resp.status_code == status, (path, body, resp.status_code, resp.text[:300])
    return resp.json()


def _run_states(platform, headers, collection: str, target_id: str) -> list[str]:
    url = f"{platform.gateway}{collection}/{target_id}/runs"
    return [run["state"] for run in requests.get(url, headers=headers, timeout=30).json()["items"]]


def _hold_active_runs(platform, headers, target: str) -> dict[str, str]:
    """A script and a scenario, each with a run in progress, and a schedule of the script: their path ids."""
    script_body = {
        "name": "held",
        "base_url": target,
        "commands": [{"command": "pause", "target": str(HELD_RUN_S * 1000)}],
    }
    scenario_body = {
        "name": "held",
        "host": target,
        "requests": [{"path": "/"}],
        "wait_time_ms": {"min": 1000, "max": 1000},
    }
    script = _post(platform, headers, f"{WEB}/scripts", {**script_body, "timeout_ms": (HELD_RUN_S + 60) * 1000}, 201)
    scenario = _post(platform, headers, f"{PERF}/scenarios", scenario_body, 201)
    schedule_body = {
        "name": "held",
        "cron": "0 3 1 1 *",
        "enabled": False,
        "target": {"kind": "web-test", "id": script["id"]},
    }
    schedule = _post(platform, headers, SCHEDULES, schedule_body, 201)
    held = [
        (f"{WEB}/scripts", script["id"], {}),
        (f"{PERF}/scenarios", scenario["id"], {"user_count": 1, "run_time": f"{HELD_RUN_S}s"}),
    ]
    for collection, target_id, run_body in held:
        _post(platform, headers, f"{collection}/{target_id}/run", run_body, 202)
    for collection, target_id, run_body in held:
        wait_until(
            lambda c=collection, t=target_id: _run_states(platform, headers, c, t) == ["running"],
            120,
            0.5,
            what=f"the held run of {collection}/{target_id} running",
        )
        # Real ids, validated: a bad body is a 422, a good one the 409 of the held run.
        _post(platform, headers, f"{collection}/{target_id}/run", {**run_body, "priority": 10}, 422)
        _post(platform, headers, f"{collection}/{target_id}/run", {**run_body, "priority": 1}, 409)
    ids = {"script_id": script["id"], "scenario_id": scenario["id"], "schedule_id": schedule["id"]}
    return ids | {"project_id": _unrunnable_project(platform, headers)}


def _stop_held_runs(platform, headers, ids: dict[str, str]) -> None:
    for collection, key in ((f"{WEB}/scripts", "script_id"), (f"{PERF}/scenarios", "scenario_id")):
        requests.post(f"{platform.gateway}{collection}/{ids[key]}/stop", headers=headers, timeout=30)


def _active_pass_problems(platform, headers, ids: dict[str, str], workdir: Path) -> list[str]:
    """What the HAR records of the active pass and the held targets show went wrong (nothing, or each problem)."""
    problems = []
    for service in SERVICES:
        entries = json.loads((workdir / f"{service}-active.har").read_text())["log"]["entries"]
        calls = [e for e in entries if re.search(STARTS_WORK, urlsplit(e["request"]["url"]).path)]
        statuses = Counter(e["response"]["status"] for e in calls)
        print(f"schemathesis {service} (active ids): {len(calls)} requests, answers {sorted(statuses.items())}")
        if not calls or statuses[404]:
            problems.append(f"{service}/active: {statuses[404]} of {len(calls)} requests met a 404")
        if service == "scheduler":
            started = [e["response"] for e in calls if e["response"]["status"] == 202]
            outcomes = {json.loads(response["content"]["text"])["status"] for response in started}
            if outcomes != {"run_active"}:
                problems.append(f"scheduler/active: trigger outcomes {outcomes}, not only run_active")
        elif not statuses[422]:  # the 409 of a valid body is checked before the pass (_hold_active_runs)
            problems.append(f"{service}/active: no body was refused (422): the bodies were not validated")
    for collection, key in ((f"{WEB}/scripts", "script_id"), (f"{PERF}/scenarios", "scenario_id")):
        states = _run_states(platform, headers, collection, ids[key])
        if len(states) != 1 or states[0] not in ACTIVE:
            problems.append(f"{collection}/{ids[key]}: runs {states}; the fuzzer must start none")
    return problems


def _cleanup_schedules(platform, headers) -> None:
    """Fuzzed schedules are real cron entries: remove what the fuzzing user created."""
    url = f"{platform.gateway}/api/v1/schedules"
    for _ in range(100):
        items = requests.get(url, headers=headers, params={"limit": 500}, timeout=30).json()["items"]
        if not items:
            return
        for item in items:
            requests.delete(f"{url}/{item['id']}", headers=headers, timeout=30)


def _cases(output: str) -> int:
    match = re.search(r"(\d+) generated", output)
    return int(match.group(1)) if match else 0


def _write_ids(path: Path, ids: dict[str, str]) -> None:
    path.write_text("[parameters]\n" + "".join(f'"path.{k}" = "{v}"\n' for k, v in ids.items()))


def test_schemathesis_every_service_no_server_errors_and_conforms(platform, tmp_path):
    headers, active_headers = platform.headers("tester", FUZZ_USER), platform.headers("tester", ACTIVE_USER)
    token, active_token = (h["Authorization"].split(" ", 1)[1] for h in (headers, active_headers))
    tokens = {"random": token, "real": token, "jobs": token, "active": active_token}
    _write_ids(tmp_path / "real-ids.toml", _own_resources(platform, headers))
    try:
        total, failures = _fuzz(platform, tokens, tmp_path, BATCHES)
    finally:
        _cleanup_schedules(platform, headers)
    with serve_ok() as target:
        active_ids = _hold_active_runs(platform, active_headers, target)
        _write_ids(tmp_path / "active-ids.toml", active_ids)
        try:
            cases, active_failures = _fuzz(platform, tokens, tmp_path, ACTIVE_BATCH)
            total += cases
            failures += active_failures + _active_pass_problems(platform, active_headers, active_ids, tmp_path)
        finally:
            _stop_held_runs(platform, active_headers, active_ids)
            _cleanup_schedules(platform, active_headers)
    assert not failures, "\n\n".join(failures)
    assert total > 1000
    operations = sum(_operation_count(platform, service) for service in FUZZED["random"])
    print(f"FIGURE schemathesis: {total} cases over {operations} operations of 4 services, 0 server errors, "
          "0 responses outside the documents; run and trigger also with real, active targets")  # fmt: skip


def _fuzz(platform, tokens: dict[str, str], workdir: Path, batches) -> tuple[int, list[str]]:
    """Every pass of the batches (the passes of a batch at once); the number of cases and what failed."""
    total, failures = 0, []
    for batch in batches:
        procs = {
            (service, mode): subprocess.Popen(
                _st_command(platform, service, tokens[mode], workdir, mode),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=workdir,
            )
            for mode in batch
            for service in FUZZED[mode]
        }
        for (service, mode), proc in procs.items():
            try:
                output, _ = proc.communicate(timeout=BUDGET_S[mode] + 90)
            except subprocess.TimeoutExpired:
                proc.kill()
                output, _ = proc.communicate()
                failures.append(f"{service}/{mode}: schemathesis did not finish in time")
            cases = _cases(output)
            total += cases
            print(f"schemathesis {service} ({mode} ids): {cases} cases, exit {proc.returncode}")
            if proc.returncode != 0:
                failures.append(f"{service}/{mode} (exit {proc.returncode}):\n{output[-12000:]}")
    return total, failures


def _operation_count(platform, service: str) -> int:
    doc = requests.get(f"{platform.gateway}/api/v1/{service}/openapi.json", timeout=30).json()
    return sum(len(methods) for methods in doc["paths"].values())


# --- oversized and malformed bodies -------------------------------------------------------------------------

JSON_BODY_ENDPOINTS = [
    ("POST", "/api/v1/web-test/scripts"),
    ("POST", "/api/v1/web-test/scripts/import"),
    ("POST", "/api/v1/perf-test/scenarios"),
    ("POST", "/api/v1/schedules"),
]


def _is_error(resp, status: int, code: str | None = None) -> bool:
    if resp.status_code != status or not resp.headers.get("Content-Type", "").startswith("application/json"):
        return False
    error = resp.json().get("error", {})
    return {"code", "message"} <= set(error) and (code is None or error["code"] == code)


def test_oversized_bodies_are_json_413(platform):
    headers = {**platform.headers("tester", "big-sender"), "Content-Type": "application/json"}
    big = b'{"name": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    checked = 0
    for method, path in JSON_BODY_ENDPOINTS:
        resp = requests.request(method, platform.gateway + path, data=big, headers=headers, timeout=60)
        assert _is_error(resp, 413, "payload_too_large"), (path, resp.status_code, resp.text[:300])
        checked += 1

    def chunks():  # no Content-Length: nginx counts as it reads
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    resp = requests.post(platform.gateway + "/api/v1/web-test/scripts/import", data=chunks(), headers=headers,
                         timeout=60)  # fmt: skip
    assert _is_error(resp, 413, "payload_too_large"), resp.text[:300]
    checked += 1
    # Behind the gateway, Flask's own MAX_CONTENT_LENGTH (10 MiB) answers in the same shape.
    for service, port in (("web-test", "WEB_TEST_PORT"), ("perf-test", "PERF_TEST_PORT")):
        direct = f"http://127.0.0.1:{platform.ports[port]}/api/v1/{service}/"
        path = "scripts" if service == "web-test" else "scenarios"
        resp = requests.post(direct + path, data=big, headers=headers, timeout=60)
        assert _is_error(resp, 413), (service, resp.status_code, resp.text[:300])
        checked += 1
    resp = requests.post(f"http://127.0.0.1:{platform.ports['SCHEDULER_PORT']}/api/v1/schedules", data=big,
                         headers=headers, timeout=60)  # fmt: skip
    assert _is_error(resp, 413), resp.text[:300]
    checked += 1
    print(f"FIGURE oversized bodies: {checked} requests of 11 MiB (gateway, chunked, each service direct) -> JSON 413")


MALFORMED = [
    b"{",
    b'{"name": "x",}',
    b"\xff\xfe\x00garbage",
    b"nul\x00l",
    b'{"a": NaN',
    # Python's parser reads these (not JSON): a scenario with "json": NaN was saved, then read back as invalid JSON.
    b'{"name": NaN}',
    b'{"name": "x", "requests": [{"path": "/", "json": Infinity}]}',
    b'{"name": -Infinity}',
    b"[" * 100_000,  # deeper than the JSON parser recurses
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
]


def test_malformed_json_is_400(platform):
    headers = {**platform.headers("tester", "bad-json"), "Content-Type": "application/json"}
    checked = 0
    for method, path in JSON_BODY_ENDPOINTS:
        for body in MALFORMED:
            resp = requests.request(method, platform.gateway + path, data=body, headers=headers, timeout=30)
            assert _is_error(resp, 400), (path, body[:20], resp.status_code, resp.text[:300])
            checked += 1
        # Valid JSON that is not an object is a 400 or 422 (the schema), never a 500.
        for body in (b"[]", b"1", b'"text"', b"null"):
            resp = requests.request(method, platform.gateway + path, data=body, headers=headers, timeout=30)
            assert resp.status_code in (400, 422) and _is_error(resp, resp.status_code), (path, body, resp.text)
            checked += 1
    print(f"FIGURE malformed JSON: {checked} malformed or non-object bodies -> 400/422 JSON, 0 server errors")


def _side(tests: list[dict]) -> dict:
    return {"id": "p", "version": "2.0", "name": "big", "url": "http://127.0.0.1:9", "tests": tests, "suites": []}


def _side_test(i: int, commands: list[dict]) -> dict:
    return {"id": f"t{i}", "name": f"test {i}", "commands": commands}


def test_huge_or_nested_side_project_and_scenario_are_4xx(platform):
    gw, headers = platform.gateway, platform.headers("tester", "big-importer")
    url = f"{gw}/api/v1/web-test/scripts/import"
    cmd = {"id": "c", "command": "open", "target": "/", "value": ""}
    deep = json.loads("[" * 900 + "]" * 900)  # within the JSON parser's depth; structurally wrong
    cases = {
        # Many tests: far more than a project has; refused, not imported for minutes (the worker timeout).
        "20k tests": _side([_side_test(i, [cmd]) for i in range(20_000)]),
        "one test, 100k commands": _side([_side_test(0, [cmd] * 100_000)]),
        "9 MB target": _side([_side_test(0, [{**cmd, "target": "x" * 9_000_000}])]),
        "nested commands": _side([_side_test(0, deep)]),
        "nested tests": {**_side([]), "tests": deep},
        "nested suites": {**_side([_side_test(0, [cmd])]), "suites": deep},
    }
    statuses = {}
    for name, project in cases.items():
        body = json.dumps(project).encode()
        resp = requests.post(url, data=body, headers={**headers, "Content-Type": "application/json"}, timeout=120)
        assert 400 <= resp.status_code < 500 and _is_error(resp, resp.status_code), (name, resp.text[:300])
        statuses[name] = resp.status_code
        # The same as a multipart upload (a .side file).
        resp = requests.post(url, files={"file": ("p.side", body)}, headers=headers, timeout=120)
        assert 400 <= resp.status_code < 500 and _is_error(resp, resp.status_code), (name, resp.text[:300])
    deep_file = b'{"version": "2.0", "tests": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    resp = requests.post(url, files={"file": ("deep.side", deep_file)}, headers=headers, timeout=60)
    assert _is_error(resp, 400) or _is_error(resp, 422), resp.text[:300]
    statuses["deep .side file"] = resp.status_code

    scenarios = f"{gw}/api/v1/perf-test/scenarios"
    base = {"name": "big", "host": "http://127.0.0.1:9"}
    scenario_cases = {
        "10k requests": {**base, "requests": [{"path": "/"}] * 10_000},
        "5 MB path": {**base, "requests": [{"path": "/" + "x" * 5_000_000}]},
        "nested requests": {**base, "requests": deep},
        "nested thresholds": {**base, "requests": [{"path": "/"}], "thresholds": deep},
        "nested wait time": {**base, "requests": [{"path": "/"}], "wait_time_ms": deep},
    }
    for name, scenario in scenario_cases.items():
        resp = requests.post(scenarios, json=scenario, headers=headers, timeout=120)
        assert 400 <= resp.status_code < 500 and _is_error(resp, resp.status_code), (name, resp.text[:300])
        statuses[name] = resp.status_code
    # Nested deeper than the JSON parser goes: 400, for a scenario's request body too.
    too_deep = b'{"name": "x", "host": "http://127.0.0.1:9", "requests": [{"path": "/", "json": ' + b"[" * 50_000
    resp = requests.post(scenarios, data=too_deep + b"]" * 50_000 + b"}]}", timeout=60,
                         headers={**headers, "Content-Type": "application/json"})  # fmt: skip
    assert _is_error(resp, 400, "invalid_json"), resp.text[:300]
    statuses["scenario nested 50k deep"] = resp.status_code
    # Still serving afterwards.
    assert requests.get(f"{gw}/api/v1/web-test/scripts", headers=headers, timeout=30).status_code == 200
    print(f"FIGURE huge/nested input: {len(statuses)} huge or deeply nested .side projects and scenarios -> 4xx "
          f"({sorted(set(statuses.values()))}), 0 crashes")  # fmt: skip
