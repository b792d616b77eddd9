"""Bad input never crashes a service: Schemathesis against every OpenAPI document, oversized and malformed bodies.

Schemathesis (CLI `st run`) runs through the gateway with a tester's token, in three passes per service:

* "random ids": every operation but the two that start work, path ids generated. Schemathesis also reuses the
  ids of what it created (POST /scripts etc.), so it reaches real resources too.
* "real ids": the path ids are a script, scenario and schedule the fuzzing user owns, so the fuzzer gets past
  the 404 into validation and serialisation. DELETE is excluded there (the resource would be gone at once).
* "job ids": only POST .../run and POST .../trigger, in a process that creates nothing, so their ids never
  exist. Those two operations are never fuzzed against a real resource: every accepted case would be a real
  Chromium or Locust job (up to PERF_MAX_USERS users for PERF_MAX_RUN_TIME) and would flood the workers the
  other suites measure; an earlier version of this test saw the fuzzer reuse created ids and reach them.

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
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.timeout(420)

SERVICES = ("web-test", "perf-test", "scheduler")
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
BUDGET_S = {"random": 45, "real": 30, "jobs": 15}  # per service and pass; the services run at the same time
BATCHES = (("random",), ("real", "jobs"))
STARTS_WORK = r"/(run|trigger)$"
FUZZ_USER = "fuzzer"


def _st_command(platform, service: str, token: str, workdir: Path, mode: str) -> list[str]:
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
    return {
        "script_id": script.json()["id"],
        "scenario_id": scenario.json()["id"],
        "schedule_id": schedule.json()["id"],
    }


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


def test_schemathesis_every_service_no_server_errors_and_conforms(platform, tmp_path):
    headers = platform.headers("tester", FUZZ_USER)
    token = headers["Authorization"].split(" ", 1)[1]
    ids = _own_resources(platform, headers)
    (tmp_path / "real-ids.toml").write_text("[parameters]\n" + "".join(f'"path.{k}" = "{v}"\n' for k, v in ids.items()))
    total, failures = 0, []
    try:
        for batch in BATCHES:
            procs = {
                (service, mode): subprocess.Popen(
                    _st_command(platform, service, token, tmp_path, mode),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    cwd=tmp_path,
                )
                for mode in batch
                for service in SERVICES
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
    finally:
        _cleanup_schedules(platform, headers)
    assert not failures, "\n\n".join(failures)
    assert total > 1000
    operations = sum(_operation_count(platform, service) for service in SERVICES)
    print(f"FIGURE schemathesis: {total} cases over {operations} operations of 3 services, 0 server errors, "
          "0 responses outside the documents")  # fmt: skip


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
