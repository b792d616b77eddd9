"""Security: who may call what (every endpoint x every kind of caller), bad tokens, Flower, perf targets, the
gateway's rate limit, and no secret or token in any log or state file."""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import ipaddress
import json
import re
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import warnings
from pathlib import Path

import jwt
import psutil
import pytest
import requests

from shared.auth import encode_token
from shared.host_policy import HostNotAllowed, HostPolicy
from shared.testing import TEST_ADMIN_PASSWORD, TEST_SECRET, BackgroundProcess, OkServer, free_port, wait_until
from tests.harness import descendants

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("web-test", "perf-test", "scheduler")
OWNER, OTHER = "sec-owner", "sec-other"
CALLERS = ("none", "viewer", "owner", "other", "admin")
SENT_TOKENS: set[str] = set()
NOT_FOUND_RESOURCE = re.compile(r"^(project|script|scenario|run|schedule|webhook|delivery)\b.*not found$")


def _headers(platform, caller: str) -> dict[str, str]:
    if caller == "none":
        return {}
    role, user = {"viewer": ("viewer", "sec-viewer"), "owner": ("tester", OWNER), "other": ("tester", OTHER),
                  "admin": ("admin", "sec-admin")}[caller]  # fmt: skip
    headers = platform.headers(role, user)
    SENT_TOKENS.add(headers["Authorization"].split(" ", 1)[1])
    return headers


def _ok(resp) -> bool:
    if resp.status_code >= 500 or resp.status_code in (401, 403):
        return False
    if resp.status_code == 404:  # a 404 naming the resource means it was hidden, not e.g. "no report yet"
        message = resp.json().get("error", {}).get("message", "")
        return not NOT_FOUND_RESOURCE.match(message)
    return True


# --- fixtures: what the owner owns -------------------------------------------------------------------------


class _Redirector(http.server.BaseHTTPRequestHandler):
    """Every path answers 302 to a host nobody allowed; counts the requests."""

    hits: list[str] = []
    forbidden_port = 0

    def do_GET(self):
        type(self).hits.append(self.path)
        target = "http://169.254.169.254/latest/meta-data/" if self.path.startswith("/metadata") else (
            f"http://127.0.0.2:{self.forbidden_port}/internal")  # fmt: skip
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(handler, host: str) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def redirect_servers():
    forbidden = OkServer("127.0.0.2")  # loopback, but not in PERF_ALLOWED_HOSTS
    _Redirector.forbidden_port = forbidden.server_address[1]
    redirector = _serve(_Redirector, "127.0.0.1")
    yield redirector, forbidden
    redirector.shutdown()
    forbidden.stop()


def _wait_terminal(gw, path, headers, timeout=120) -> dict:
    found = {}

    def done():
        found.update(requests.get(gw + path, headers=headers, timeout=30).json())
        return found.get("state") in ("passed", "failed", "error", "stopped")

    wait_until(done, timeout, 1.0, what=f"{path} in a terminal state")
    return found


@pytest.fixture(scope="module")
def owned(platform, redirect_servers):
    """A script, a project, a scenario (run once against a redirecting server), a schedule and a run of each, owned
    by OWNER."""
    gw, headers = platform.gateway, _headers(platform, "owner")
    redirector, _ = redirect_servers
    script = requests.post(f"{gw}/api/v1/web-test/scripts", headers=headers, timeout=30, json=SCRIPT_BODY).json()
    project = requests.post(f"{gw}/api/v1/web-test/projects", headers=headers, timeout=30, json=SIDE_BODY).json()
    scenario_body = {
        "name": "redirects", "host": f"http://127.0.0.1:{redirector.server_address[1]}",
        "requests": [{"name": "to-metadata", "path": "/metadata"}, {"name": "to-internal", "path": "/internal"}],
        "thresholds": {"max_failure_ratio": 0.0},
    }  # fmt: skip
    scenario = requests.post(f"{gw}/api/v1/perf-test/scenarios", headers=headers, timeout=30, json=scenario_body)
    assert scenario.status_code == 201, scenario.text
    scenario = scenario.json()
    schedule = requests.post(f"{gw}/api/v1/schedules", headers=headers, timeout=30, json=SCHEDULE_BODY).json()
    perf_run = requests.post(f"{gw}/api/v1/perf-test/scenarios/{scenario['id']}/run", headers=headers, timeout=30,
                             json={"user_count": 2, "spawn_rate": 2, "run_time": "3s"})  # fmt: skip
    assert perf_run.status_code == 202, perf_run.text
    project_run = requests.post(f"{gw}/api/v1/web-test/projects/{project['project']['id']}/run", headers=headers,
                                timeout=30, json={})  # fmt: skip
    assert project_run.status_code == 202, project_run.text
    stopped = requests.post(f"{gw}/api/v1/web-test/project-runs/{project_run.json()['id']}/stop", headers=headers,
                            timeout=30)  # fmt: skip
    assert stopped.status_code == 202 and stopped.json()["state"] in ("stopped", "error"), stopped.text
    web_run = requests.post(f"{gw}/api/v1/web-test/scripts/{script['id']}/run", headers=headers, timeout=30, json={})
    assert web_run.status_code == 202, web_run.text
    requests.post(f"{gw}/api/v1/web-test/scripts/{script['id']}/stop", headers=headers, timeout=30)
    perf_final = _wait_terminal(gw, f"/api/v1/perf-test/runs/{perf_run.json()['run_id']}", headers)
    _wait_terminal(gw, f"/api/v1/web-test/runs/{web_run.json()['run_id']}", headers)
    webhook = requests.post(f"{gw}/api/v1/webhooks", headers=headers, timeout=30, json=WEBHOOK_BODY)
    assert webhook.status_code == 201, webhook.text
    delivery = requests.post(f"{gw}/api/v1/webhooks/{webhook.json()['id']}/test", headers=headers, timeout=30)
    assert delivery.status_code == 202, delivery.text
    return {
        "script_id": script["id"],
        "project_id": project["project"]["id"],
        "project_run_id": project_run.json()["id"],
        "scenario_id": scenario["id"],
        "schedule_id": schedule["id"],
        "web_run_id": web_run.json()["run_id"],
        "perf_run_id": perf_run.json()["run_id"],
        "perf_final": perf_final,
        "webhook_id": webhook.json()["id"],
        "delivery_id": delivery.json()["id"],
    }


SCRIPT_BODY = {"name": "sec", "base_url": "http://127.0.0.1:9", "commands": [{"command": "open", "target": "/"}]}
SIDE_BODY = {"version": "2.0", "name": "sec", "url": "http://127.0.0.1:9",
             "tests": [{"id": "t", "name": "sec", "commands": [{"command": "open", "target": "/"}]}],
             "suites": [{"id": "s", "name": "sec", "tests": ["t"]}]}  # fmt: skip
SCENARIO_BODY = {"name": "sec", "host": "http://127.0.0.1:9", "requests": [{"path": "/"}]}
SCHEDULE_BODY = {"name": "sec", "cron": "0 3 1 1 *", "enabled": False, "target": {"kind": "web-test", "id": "nope"}}
# Nothing listens on port 9: its deliveries fail and wait for their retries, which is all this file needs.
WEBHOOK_BODY = {"name": "sec", "url": "http://127.0.0.1:9/hook", "events": ["run.finished"]}
INVALID = {"__not_a_field__": True}


# How to make a new resource of each id a path names: its list, its body, and where the answer holds the id.
FRESH = {
    "script_id": ("/api/v1/web-test/scripts", SCRIPT_BODY, lambda answer: answer["id"]),
    "project_id": ("/api/v1/web-test/projects", SIDE_BODY, lambda answer: answer["project"]["id"]),
    "scenario_id": ("/api/v1/perf-test/scenarios", SCENARIO_BODY, lambda answer: answer["id"]),
    "schedule_id": ("/api/v1/schedules", SCHEDULE_BODY, lambda answer: answer["id"]),
    "webhook_id": ("/api/v1/webhooks", WEBHOOK_BODY, lambda answer: answer["id"]),
}


def _fresh(platform, path: str) -> dict[str, str]:
    """A new resource of the owner's for each id the DELETE path names (deleting the shared one would break the
    cells after it); only those the path names."""
    gw, headers = platform.gateway, _headers(platform, "owner")
    fresh = {}
    for key, (list_path, body, id_of) in FRESH.items():
        if "{" + key + "}" in path:
            answer = requests.post(gw + list_path, json=body, headers=headers, timeout=30)
            assert answer.status_code == 201, answer.text
            fresh[key] = id_of(answer.json())
    return fresh


def _body_for(path: str, method: str):
    """PUT/PATCH get a valid body (validation may precede the ownership check); the rest an invalid one, so an
    authorised call is a 422 and changes nothing (POST .../run would otherwise start a real job)."""
    if method == "PATCH":
        return {"enabled": False}
    if method == "PUT":
        if "/projects/" in path:
            return SIDE_BODY
        return SCRIPT_BODY if "/scripts/" in path else SCENARIO_BODY if "/scenarios/" in path else SCHEDULE_BODY
    if method == "POST" and not path.endswith(("/stop", "/trigger")):
        return {"priority": "urgent"} if path.endswith("/run") else INVALID
    return None


# Anyone may call these without a token. Spelled here, not read from the OpenAPI document (the code derives its
# "security" from its own @public marks): a route made public by mistake is expected to answer 401, and fails.
PUBLIC_PATHS = frozenset(
    f"/api/v1/{service}/{name}" for service in SERVICES for name in ("health", "ready", "openapi.json")
)


def _expected(caller: str, method: str, path: str) -> str:
    if path in PUBLIC_PATHS and method == "GET":
        return "ok"
    if caller == "none":
        return "401"
    if path.endswith("/scheduler/jobs"):  # system jobs: viewers and admins
        return "403" if caller in ("owner", "other") else "ok"
    if caller == "viewer" and path.startswith("/api/v1/webhooks"):  # URLs and secrets: not a viewer's to read
        return "403"
    if caller == "viewer":
        return "ok" if method == "GET" else "403"
    if caller == "other" and "{" in path:  # another tester's resource does not exist for it
        return "404"
    return "ok"


# Each list and the key of the owner's item in it (the owned fixture).
OWNED_LISTS = (
    ("/api/v1/web-test/scripts", "script_id"),
    ("/api/v1/web-test/projects", "project_id"),
    ("/api/v1/perf-test/scenarios", "scenario_id"),
    ("/api/v1/schedules", "schedule_id"),
    ("/api/v1/webhooks", "webhook_id"),
)


def test_authorization_matrix_every_endpoint_every_caller(platform, owned):
    gw = platform.gateway
    cells, wrong = 0, []
    for service in SERVICES:
        doc = requests.get(f"{gw}/api/v1/{service}/openapi.json", timeout=30).json()
        for path, methods in doc["paths"].items():
            for method_lower, op in methods.items():
                method = method_lower.upper()
                if ("security" not in op) != (method == "GET" and path in PUBLIC_PATHS):
                    wrong.append(f"{method} {path}: the document's security does not match PUBLIC_PATHS")
                for caller in CALLERS:
                    ids = {**owned, "run_id": owned["web_run_id" if service == "web-test" else "perf_run_id"]}
                    if method == "DELETE":
                        ids.update(_fresh(platform, path))
                    url = gw + path.format(n=1, **ids)
                    body = _body_for(path, method)
                    resp = requests.request(method, url, headers=_headers(platform, caller), json=body, timeout=60)
                    expected = _expected(caller, method, path)
                    good = _ok(resp) if expected == "ok" else str(resp.status_code) == expected
                    if expected != "ok" and good:
                        good = resp.json()["error"]["code"] in ("unauthorized", "forbidden", "not_found")
                    if resp.status_code >= 500 or not good:
                        wrong.append(f"{caller:6} {method} {path}: expected {expected}, got {resp.status_code} "
                                     f"{resp.text[:160]}")  # fmt: skip
                    cells += 1
    assert not wrong, "\n".join(wrong)
    # Lists: a tester sees only its own; viewer and admin see the owner's.
    for list_path, key in OWNED_LISTS:
        # A list the viewer may not read (its 403 is a cell of the matrix above) is not one it sees into.
        viewer = (("viewer", True),) if _expected("viewer", "GET", list_path) == "ok" else ()
        for caller, visible in (("other", False), *viewer, ("admin", True), ("owner", True)):
            ids = set()
            offset = 0
            while True:
                page = requests.get(gw + list_path, headers=_headers(platform, caller), timeout=30,
                                    params={"limit": 500, "offset": offset}).json()  # fmt: skip
                ids |= {item["id"] for item in page["items"]}
                offset += 500
                if offset >= page["total"]:
                    break
            assert (owned[key] in ids) is visible, (caller, list_path)
            if caller == "other":
                assert all(i not in ids for i in (owned["script_id"], owned["scenario_id"], owned["schedule_id"]))
    print(f"FIGURE authorization matrix: {cells} endpoint x caller cells (5 callers), all as expected, 0 server errors")


# --- tokens ------------------------------------------------------------------------------------------------


def _hs512(claims: dict) -> str:
    with warnings.catch_warnings():  # the test secret is short for HS512; that is not what is tested
        warnings.simplefilter("ignore")
        return jwt.encode(claims, TEST_SECRET, algorithm="HS512")


def _bad_tokens() -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "mallory", "role": "admin", "iat": now, "exp": now + 600}
    header, payload, _ = encode_token(TEST_SECRET, "mallory", "admin", 600).split(".")
    return {
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "alg none, signature kept": f"{jwt.encode(claims, None, algorithm='none').rstrip('.')}.{_}",
        "wrong key": encode_token("another-secret-of-at-least-32-chars!", "mallory", "admin", 600),
        "expired": encode_token(TEST_SECRET, "mallory", "admin", -60),
        "HS512 same key": _hs512(claims),
        "tampered payload": f"{header}.{payload[:-2]}AA.{_}",
        "no exp": jwt.encode({"sub": "mallory", "role": "admin"}, TEST_SECRET, algorithm="HS256"),
        "unknown role": jwt.encode({**claims, "role": "root"}, TEST_SECRET, algorithm="HS256"),
        "empty sub": jwt.encode({**claims, "sub": ""}, TEST_SECRET, algorithm="HS256"),
        "garbage": "not-a-jwt",
    }


def test_bad_tokens_are_401(platform):
    gw, checked = platform.gateway, 0
    targets = [("GET", f"/api/v1/{s}/me") for s in SERVICES] + [
        ("GET", "/api/v1/web-test/scripts"), ("POST", "/api/v1/perf-test/scenarios"), ("GET", "/api/v1/schedules"),
        ("GET", "/api/v1/scheduler/status"),
    ]  # fmt: skip
    for name, token in _bad_tokens().items():
        SENT_TOKENS.add(token)
        for method, path in targets:
            for header in (f"Bearer {token}", f"bearer {token}"):
                resp = requests.request(method, gw + path, headers={"Authorization": header}, json=SCENARIO_BODY,
                                        timeout=30)  # fmt: skip
                assert resp.status_code == 401, (name, path, resp.status_code, resp.text)
                assert resp.json()["error"]["code"] == "unauthorized"
                checked += 1
    good = platform.headers("admin", "sec-admin")
    token = good["Authorization"].split(" ", 1)[1]
    for scheme in ("Basic", "Token", ""):
        header = f"{scheme} {token}".strip()
        resp = requests.get(gw + "/api/v1/web-test/me", headers={"Authorization": header}, timeout=30)
        assert resp.status_code == 401
        checked += 1
    print(f"FIGURE bad tokens: {checked} requests with alg none, wrong key, expired, tampered or wrong-scheme tokens "
          "-> 401")  # fmt: skip


def test_flower_needs_credentials(platform):
    gw, checked = platform.gateway, 0
    for path in ("/flower/", "/flower/metrics", "/flower/api/workers", "/flower/workers", "/flower/tasks"):
        for auth in (None, ("ops", "wrong"), ("admin", "testfleet")):
            resp = requests.get(gw + path, auth=auth, timeout=30, allow_redirects=False)
            assert resp.status_code == 401, (path, auth, resp.status_code)
            checked += 1
    for path in ("/flower/", "/flower/metrics"):
        resp = requests.get(gw + path, auth=platform.flower_auth, timeout=30)
        assert resp.status_code == 200, (path, resp.status_code)
    print(f"FIGURE flower: {checked} requests without or with wrong credentials -> 401; the right ones -> 200")


# --- perf targets ------------------------------------------------------------------------------------------

REFUSED_BY_DEFAULT = [
    "http://10.0.0.5", "http://172.16.3.4", "http://192.168.1.10", "http://169.254.169.254",
    "http://[::ffff:169.254.169.254]", "http://[::ffff:10.0.0.1]", "http://[::ffff:a9fe:a9fe]",
    "http://[fe80::1]", "http://[fd00:ec2::254]", "http://100.100.100.200", "http://127.0.0.2", "http://0.0.0.0",
    "http://metadata.google.internal", "http://2130706433", "http://0x7f000002", "http://user:pw@127.0.0.1",
]  # fmt: skip


def test_perf_hosts_refused_at_create_and_run(platform, owned):
    gw, headers = platform.gateway, _headers(platform, "owner")
    for host in REFUSED_BY_DEFAULT:
        for method, path in (("POST", "/api/v1/perf-test/scenarios"),
                             ("PUT", f"/api/v1/perf-test/scenarios/{owned['scenario_id']}")):  # fmt: skip
            resp = requests.request(method, gw + path, headers=headers, json={**SCENARIO_BODY, "host": host},
                                    timeout=30)  # fmt: skip
            assert resp.status_code == 422, (host, resp.status_code, resp.text)
    # At run time the host is checked again: a scenario saved before the allow list changed cannot run.
    stale = requests.post(f"{gw}/api/v1/perf-test/scenarios", headers=headers, json=SCENARIO_BODY, timeout=30).json()
    with sqlite3.connect(platform.var_dir / "perf-test.db") as db:
        db.execute("UPDATE scenarios SET host = ? WHERE id = ?", ("http://169.254.169.254", stale["id"]))
    resp = requests.post(f"{gw}/api/v1/perf-test/scenarios/{stale['id']}/run", headers=headers, timeout=30,
                         json={"user_count": 1, "run_time": "1s"})  # fmt: skip
    assert resp.status_code == 422 and "169.254.169.254" in resp.text, resp.text
    print(f"FIGURE perf hosts: {len(REFUSED_BY_DEFAULT)} private, link-local, metadata, mapped or unlisted hosts "
          "refused on create and replace (422); a stored one refused at run")  # fmt: skip


def test_perf_run_does_not_follow_redirects(platform, owned, redirect_servers):
    final = owned["perf_final"]
    assert _Redirector.hits, "the load test never reached the redirecting server"
    _redirector, forbidden = redirect_servers
    assert not forbidden.hits, f"a redirect was followed to 127.0.0.2: {forbidden.hits[:3]}"
    assert final["state"] in ("passed", "failed"), final
    print(
        f"FIGURE redirects: {len(_Redirector.hits)} requests answered 302 to 169.254.169.254 and 127.0.0.2, "
        f"0 followed (run {final['state']})"
    )


def _stub(mapping: dict[str, list[str]]):
    def resolve(name: str) -> list[str]:
        if name not in mapping:
            raise socket.gaierror("no such name")
        return mapping[name]

    return resolve


def check_host(url, allowed, *, resolver=None):
    return HostPolicy.from_setting(allowed, "PERF_ALLOWED_HOSTS", resolver=resolver).check_url(url)


def test_host_policy_units():
    checked = 0
    no_loopback = ["app.example.com", "10.1.2.0/24"]
    for host in ("127.0.0.1", "http://localhost:8089", "::1", "http://[::1]:80", "http://[::ffff:127.0.0.1]"):
        with pytest.raises(HostNotAllowed):
            check_host(host, no_loopback, resolver=_stub({"localhost": ["127.0.0.1"]}))
        checked += 1
    default = "127.0.0.1,localhost,::1"
    for host in ("10.0.0.1", "172.31.255.255", "192.168.0.1", "169.254.169.254", "::ffff:169.254.169.254",
                 "::ffff:192.168.0.1", "fe80::1", "fd00:ec2::254", "100.100.100.200", "127.0.0.2"):  # fmt: skip
        with pytest.raises(HostNotAllowed):
            check_host(f"http://{'[' + host + ']' if ':' in host else host}/", default)
        checked += 1
    # `::1` only where listed.
    check_host("http://[::1]:8080/", default)
    with pytest.raises(HostNotAllowed):
        check_host("http://[::1]:8080/", ["127.0.0.1", "localhost"])
    checked += 2
    # Names are judged by every address they resolve to (rebinding, split horizon).
    allowed = ["*.example.com", "10.1.2.0/24", "0.0.0.0/0"]
    bad_names = {
        "meta.example.com": ["169.254.169.254"],
        "mapped.example.com": ["::ffff:169.254.169.254"],
        "mixed.example.com": ["10.1.2.3", "169.254.169.254"],
        "v6ll.example.com": ["fe80::1"],
    }
    for name in bad_names:
        with pytest.raises(HostNotAllowed):
            check_host(f"https://{name}/", allowed, resolver=_stub(bad_names))
        checked += 1
    private = {"internal.example.com": ["192.168.1.5"], "rebind.example.com": ["10.1.2.3", "10.9.9.9"]}
    for name in private:
        with pytest.raises(HostNotAllowed):
            check_host(f"https://{name}/", ["*.example.com", "10.1.2.0/24"], resolver=_stub(private))
        checked += 1
    check_host("https://ok.example.com/", allowed, resolver=_stub({"ok.example.com": ["10.1.2.3"]}))
    with pytest.raises(HostNotAllowed):  # does not resolve
        check_host("https://gone.example.com/", allowed, resolver=_stub({}))
    with pytest.raises(HostNotAllowed):  # a name outside the patterns is refused before any lookup
        check_host("https://evil.test/", allowed, resolver=lambda name: pytest.fail(f"looked up {name}"))
    # Metadata only where named verbatim, never through a wildcard.
    check_host("http://169.254.169.254/", ["169.254.169.254"])
    assert ipaddress.ip_address("169.254.169.254") in ipaddress.ip_network("0.0.0.0/0")
    checked += 4
    print(f"FIGURE host policy: {checked} unit cases (loopback not listed, RFC 1918, link-local, metadata, mapped "
          "IPv6, names resolving to them) as expected")  # fmt: skip


# --- gateway rate limit ------------------------------------------------------------------------------------


def _render_module():
    spec = importlib.util.spec_from_file_location("gateway_render", ROOT / "gateway" / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gateway_rate_limit_is_json_429(platform, tmp_path):
    """A second nginx from the same template, with a tiny limit, in front of the platform's real APIs."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    env = {
        "GATEWAY_PORT": str(port), "GATEWAY_RATE_LIMIT": "2r/s", "GATEWAY_RATE_BURST": "3",
        "WEB_TEST_UPSTREAM": f"127.0.0.1:{platform.ports['WEB_TEST_PORT']}",
        "PERF_TEST_UPSTREAM": f"127.0.0.1:{platform.ports['PERF_TEST_PORT']}",
        "SCHEDULER_UPSTREAM": f"127.0.0.1:{platform.ports['SCHEDULER_PORT']}",
        "FLOWER_UPSTREAM": f"127.0.0.1:{platform.ports['FLOWER_PORT']}", "FLOWER_BASIC_AUTH": "ops:secret",
    }  # fmt: skip
    conf = _render_module().render(tmp_path / "nginx", env)
    subprocess.run([nginx, "-t", "-q", "-p", str(tmp_path / "nginx"), "-c", str(conf)], check=True, timeout=30)
    proc = BackgroundProcess([nginx, "-p", str(tmp_path / "nginx"), "-c", str(conf), "-e", "stderr"]).start()
    try:
        base = f"http://127.0.0.1:{port}"
        # Refused until the second nginx listens.
        wait_until(lambda: requests.get(base + "/flower/metrics", timeout=5).status_code == 401, 30, 0.2,
                   what="the second gateway", ignore=(requests.ConnectionError,))  # fmt: skip
        headers = platform.headers("viewer", "sec-rate")
        SENT_TOKENS.add(headers["Authorization"].split(" ", 1)[1])
        codes = [requests.get(base + "/api/v1/web-test/scripts", headers=headers, timeout=30) for _ in range(20)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited and codes[0].status_code == 200, [r.status_code for r in codes]
        assert {r.status_code for r in codes} <= {200, 429}
        body = limited[0].json()
        assert limited[0].headers["Content-Type"].startswith("application/json")
        assert body["error"]["code"] == "too_many_requests" and body["error"]["message"]
        assert limited[0].headers.get("X-Request-Id") and limited[0].headers.get("Retry-After") == "1"
        # Every API route is limited; after a pause the client is served again.
        for path in ("/api/v1/perf-test/me", "/api/v1/schedules"):
            statuses = {requests.get(base + path, headers=headers, timeout=30).status_code for _ in range(12)}
            assert 429 in statuses, (path, statuses)
        time.sleep(2.5)
        assert requests.get(base + "/api/v1/web-test/scripts", headers=headers, timeout=30).status_code == 200
        # A request line over the services' limit is the gateway's JSON 414.
        resp = requests.get(base + "/api/v1/web-test/scripts?x=" + "a" * 5000, headers=headers, timeout=30)
        assert resp.status_code == 414 and resp.json()["error"]["code"] == "uri_too_long", resp.text[:200]
        resp = requests.get(base + "/api/v1/web-test/scripts", headers={**headers, "X-Big": "a" * 5000}, timeout=30)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_request", resp.text[:200]
    finally:
        proc.stop()
    print(
        f"FIGURE rate limit: 20 requests at 2 r/s burst 3 -> {len(codes) - len(limited)} served, "
        f"{len(limited)} JSON 429 with Retry-After"
    )


def test_platform_gateway_has_generous_limit(platform):
    """The shared platform's default (500 r/s, burst 1000) does not limit normal use: 300 quick reads."""
    headers = platform.headers("viewer", "sec-burst")
    SENT_TOKENS.add(headers["Authorization"].split(" ", 1)[1])
    with requests.Session() as session:
        codes = [session.get(f"{platform.gateway}/api/v1/web-test/me", headers=headers, timeout=30).status_code
                 for _ in range(300)]  # fmt: skip
    assert set(codes) == {200}, sorted(set(codes))


# --- secrets in logs (last, so it also scans what every test above sent) ---------------------------------------------


def _send_own_traffic(platform) -> None:
    """Good and bad tokens on every service, accepted, refused and failing requests: what the logs must not keep.

    The test sends its own, so it holds alone too; run after the tests above, it also scans what they sent.
    """
    gw = platform.gateway
    for caller in ("viewer", "owner", "admin"):
        headers = _headers(platform, caller)
        for service in SERVICES:
            assert requests.get(f"{gw}/api/v1/{service}/me", headers=headers, timeout=30).status_code == 200
        bad_body = requests.post(f"{gw}/api/v1/perf-test/scenarios", headers=headers, json={"name": ""}, timeout=30)
        assert bad_body.status_code in (403, 422)
    for token in _bad_tokens().values():
        SENT_TOKENS.add(token)
        resp = requests.get(f"{gw}/api/v1/web-test/scripts", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert resp.status_code == 401
    # The console: a wrong and a right password, an API token made, used and revoked.
    browser = requests.Session()
    for password, status in (("wrong-password", 401), (TEST_ADMIN_PASSWORD, 302)):
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(f"{gw}/login", timeout=30).text).group(1)
        login = browser.post(f"{gw}/login", data={"username": "admin", "password": password, "csrf_token": csrf},
                             allow_redirects=False, timeout=30)  # fmt: skip
        assert login.status_code == status, login.text[:300]
    # A login starts a fresh session with a CSRF token of its own.
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(f"{gw}/tokens", timeout=30).text).group(1)
    csrf_header = {"X-CSRFToken": csrf}
    made = browser.post(f"{gw}/api/v1/auth/tokens", json={"name": "scan"}, headers=csrf_header, timeout=30)
    assert made.status_code == 201, made.text
    made = made.json()
    SENT_TOKENS.add(made["token"])
    api_token = {"Authorization": f"Bearer {made['token']}"}
    assert requests.get(f"{gw}/api/v1/web-test/me", headers=api_token, timeout=30).status_code == 200
    assert browser.delete(f"{gw}/api/v1/auth/tokens/{made['id']}", headers=csrf_header, timeout=30).status_code == 200


# --- web target policy: WEB_ALLOWED_HOSTS in the browser (docs/security.md) ------------------------------------

PASSWD_LINE = "root:x:0:0"  # the first line of /etc/passwd: in nothing a web run shows


class _Hostile(http.server.BaseHTTPRequestHandler):
    """An allowed site whose pages reach for what a test must not: a file, the metadata address, the gateway."""

    gateway_port = 0

    def do_GET(self):
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = {
            "/frame": '<iframe src="file:///etc/passwd"></iframe>',
            "/fetch": '<div id=out></div><script>fetch("http://169.254.169.254/latest/meta-data/")'
            ".then(r => r.text()).then(t => out.textContent = t)</script>",
            "/gateway": f'<script>location.href = "http://127.0.0.1:{self.gateway_port}/api/v1/web-test/me"</script>',
        }.get(self.path, "<h1>ok</h1>")
        data = f"<!doctype html><title>hostile</title>{body}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hostile_site(platform):
    _Hostile.gateway_port = int(platform.ports["GATEWAY_PORT"])
    server = _serve(_Hostile, "127.0.0.1")
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_web_local_urls_refused_at_save_and_import(platform):
    gw, headers = platform.gateway, _headers(platform, "owner")
    commands = [{"command": "open", "target": "file:///etc/passwd"}, {"command": "assertText", "target": "css=body",
                                                                      "value": "x"}]  # fmt: skip
    saved = requests.post(f"{gw}/api/v1/web-test/scripts", headers=headers, timeout=30, json={**SCRIPT_BODY,
                          "commands": commands})  # fmt: skip
    assert saved.status_code == 422, saved.text
    assert saved.json()["error"]["details"][0]["field"] == "commands.0.target" and "WEB_ALLOWED_HOSTS" in saved.text
    project = {"id": "p", "version": "2.0", "name": "p", "url": "http://127.0.0.1:9", "urls": [], "plugins": [],
               "suites": [], "tests": [{"id": "t", "name": "t", "commands": [{"id": "c", "command": "open",
                                                                             "target": "http://169.254.169.254/",
                                                                             "value": ""}]}]}  # fmt: skip
    imported = requests.post(f"{gw}/api/v1/web-test/scripts/import", headers=headers, timeout=30, json=project)
    assert imported.status_code == 422, imported.text
    assert imported.json()["error"]["details"][0]["field"] == "tests.0.commands.0.target"
    print("FIGURE web save: open file:///etc/passwd and open http://169.254.169.254/ refused at save and import (422)")


def test_web_runs_reaching_refused_targets_end_in_error_showing_nothing(platform, hostile_site):
    gw, headers = platform.gateway, _headers(platform, "owner")
    cases = {"/redirect": "a redirect to a file: URL", "/frame": "a file: URL", "/fetch": "169.254.169.254",
             "/gateway": "platform's own endpoints"}  # fmt: skip
    for path, naming in cases.items():
        body = {"name": f"hostile {path}", "base_url": hostile_site, "commands": [
            {"command": "open", "target": path}, {"command": "pause", "target": "500"},
            {"command": "assertText", "target": "css=body", "value": "root"}]}  # fmt: skip
        script = requests.post(f"{gw}/api/v1/web-test/scripts", headers=headers, timeout=30, json=body)
        assert script.status_code == 201, script.text
        started = requests.post(f"{gw}/api/v1/web-test/scripts/{script.json()['id']}/run", headers=headers,
                                timeout=30, json={})  # fmt: skip
        assert started.status_code == 202, started.text
        run_path = f"/api/v1/web-test/runs/{started.json()['run_id']}"
        final = _wait_terminal(gw, run_path, headers)
        assert final["state"] == "error" and final["error"]["code"] == "target_blocked", (path, final)
        assert final["error"]["message"].startswith("Blocked by WEB_ALLOWED_HOSTS"), final["error"]
        assert naming in final["error"]["message"], (path, final["error"])
        junit = requests.get(f"{gw}{run_path}/junit.xml", headers=headers, timeout=30).text
        status = requests.get(f"{gw}/api/v1/web-test/scripts/{script.json()['id']}/status", headers=headers,
                              timeout=30).text  # fmt: skip
        for shown in (str(final), junit, status):
            assert PASSWD_LINE not in shown, path
    print(f"FIGURE web targets: {len(cases)} pages reaching a file, 169.254.169.254 or the gateway: each run "
          "an error naming WEB_ALLOWED_HOSTS, 0 bytes of the target in its JSON, status or JUnit")  # fmt: skip


def test_no_secret_or_token_in_logs_or_state(platform, durable_redis):
    _send_own_traffic(platform)
    secrets = {"AUTH_SECRET": TEST_SECRET.encode(), "Flower password": platform.flower_auth[1].encode()}
    secrets["Redis password"] = durable_redis.password.encode()
    secrets["console admin password"] = TEST_ADMIN_PASSWORD.encode()
    secrets |= {f"token {t[:12]}…": t.encode() for t in SENT_TOKENS}
    secrets |= {f"token signature {t[:12]}…": t.rsplit(".", 1)[-1].encode() for t in SENT_TOKENS if t.count(".") == 2
                and len(t.rsplit(".", 1)[-1]) > 20}  # fmt: skip
    any_jwt = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}")
    files = [platform.log] + [p for p in Path(platform.var_dir).rglob("*") if p.is_file()]
    leaks, scanned = [], 0
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        scanned += len(data)
        for name, value in secrets.items():
            if value in data:
                leaks.append(f"{name} in {path}")
        if match := any_jwt.search(data):
            leaks.append(f"a JWT in {path}: {match.group()[:24]!r}…")
    assert len(SENT_TOKENS) > 5
    assert not leaks, "\n".join(leaks)
    print(
        f"FIGURE secrets: {len(files)} files ({scanned / 1e6:.1f} MB: platform log, databases, artifacts, gateway "
        f"logs) scanned for AUTH_SECRET, the Flower and Redis passwords and {len(SENT_TOKENS)} tokens: 0 found"
    )


def test_no_secret_on_any_platform_command_line(platform, durable_redis):
    """/proc/<pid>/cmdline is world-readable: no process of the platform carries a secret in its arguments."""
    secrets = {
        "AUTH_SECRET": TEST_SECRET,
        "Flower password": platform.flower_auth[1],
        "Redis password": durable_redis.password,
        "console admin password": TEST_ADMIN_PASSWORD,
    }
    processes = descendants(platform.proc.pid)
    shown = []
    for pid in processes:
        with contextlib.suppress(psutil.Error):
            shown.append((pid, " ".join(psutil.Process(pid).cmdline())))
    assert len(shown) >= 9, shown  # the nine processes of make up, at least
    leaks = [f"{name} in the command line of {pid}: {line[:80]}…" for pid, line in shown
             for name, value in secrets.items() if value in line]  # fmt: skip
    assert not leaks, "\n".join(leaks)
    print(f"FIGURE command lines: {len(shown)} platform processes, 0 with AUTH_SECRET, the Flower or Redis password")


# --- perf: admin locustfiles (contained, scrubbed; docs/security.md) ------------------------------------------------

_ENV_LOCUSTFILE = """
import os

from locust import User, constant, task

print(dict(os.environ), flush=True)  # at save: this output must go nowhere
{at_import}

class Leaker(User):
    wait_time = constant(0.2)

    @task
    def leak(self):
        # (Not the parent's /proc environ: this platform runs as root, which reads sealed processes too.)
        raise RuntimeError(repr(dict(os.environ)))
"""


def _run_admin_locustfile(platform, name: str, locustfile: str) -> dict:
    """Save an admin's locustfile (against a closed port), run it 3 s with one user; the run's final JSON."""
    gw, admin = platform.gateway, platform.headers("admin", "sec-admin")
    saved = requests.post(f"{gw}/api/v1/perf-test/scenarios", headers=admin, timeout=60,
                          json={"name": name, "host": "http://127.0.0.1:9", "locustfile": locustfile})  # fmt: skip
    assert saved.status_code == 201, saved.text
    run = requests.post(f"{gw}/api/v1/perf-test/scenarios/{saved.json()['id']}/run", headers=admin, timeout=30,
                        json={"user_count": 1, "run_time": "3s"})  # fmt: skip
    assert run.status_code == 202, run.text
    return _wait_terminal(gw, f"/api/v1/perf-test/runs/{run.json()['run_id']}", admin)


def test_perf_admin_locustfile_sees_no_secret(platform, durable_redis):
    """Check as a user would: an admin locustfile printing os.environ, at save and at run, shows no secret."""
    gw, admin = platform.gateway, platform.headers("admin", "sec-admin")
    SENT_TOKENS.add(admin["Authorization"].split(" ", 1)[1])
    secrets = [TEST_SECRET, platform.flower_auth[1], durable_redis.password, "REDIS_URL", "DATABASE_URL", "AUTH_SECRET"]
    at_save = requests.post(f"{gw}/api/v1/perf-test/scenarios", headers=admin, timeout=60, json={
        "name": "env", "host": "http://127.0.0.1:9",
        "locustfile": _ENV_LOCUSTFILE.format(at_import="raise SystemExit(repr(dict(os.environ)))")})  # fmt: skip
    assert at_save.status_code == 422, at_save.text
    assert not [s for s in secrets if s in at_save.text], at_save.text
    final = _run_admin_locustfile(platform, "env", _ENV_LOCUSTFILE.format(at_import=""))
    shown = json.dumps(final)
    assert "Leaker" in shown or final["error"], final  # the task's exception was recorded
    assert "PATH" in shown  # the scrubbed environment did reach the result ...
    assert not [s for s in secrets if s in shown], shown[:500]  # ... and nothing else
    print(f"FIGURE admin locustfile: os.environ at save (422) and in a run "
          f"({final['state']}): no AUTH_SECRET, Flower password, REDIS_URL or DATABASE_URL")  # fmt: skip


_REDIS_LOCUSTFILE = """
import _socket

from locust import User, constant, task


class RedisProber(User):
    wait_time = constant(0.2)

    @task
    def probe(self):
        # The C socket module is below gevent and the pin (docs/security.md): only Redis's password stands in the way.
        redis = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        redis.settimeout(5)
        try:
            redis.connect(("127.0.0.1", {port}))
            redis.sendall(b"PING\\r\\n")
            raise RuntimeError("redis answered " + redis.recv(200).decode(errors="replace").strip())
        finally:
            redis.close()
"""


def test_perf_admin_locustfile_cannot_use_the_platforms_redis(platform, durable_redis):
    """The Locust master runs beside the perf worker, with its network: Redis refuses it without the password."""
    final = _run_admin_locustfile(platform, "redis probe", _REDIS_LOCUSTFILE.format(port=durable_redis.port))
    shown = json.dumps(final)
    assert "redis answered" in shown, shown[:1000]  # the probe did reach Redis's port ...
    assert "NOAUTH" in shown and "PONG" not in shown, shown[:1000]  # ... and Redis refused it
    print(f"FIGURE Redis from a locustfile: the platform's Redis port answered NOAUTH to PING ({final['state']})")
