"""Every service keeps the common contract: health, ready, openapi, auth, errors, migrations."""

from __future__ import annotations

import re
import sys
import time

import jwt
import pytest
from sqlalchemy import create_engine, inspect

from shared.db import ID_PATTERN
from shared.migrations import downgrade, upgrade
from shared.testing import TEST_SECRET, BackgroundProcess, migrated_app, service_env, service_settings, wait_until
from tests.platform.services import SERVICES

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=SERVICES, ids=[s.name for s in SERVICES])
def service(request):
    return request.param


@pytest.fixture()
def app(service, redis_url, database_url, tmp_path):
    settings = service_settings(service.settings_cls(), redis_url, database_url, tmp_path)
    with migrated_app(service.package, settings) as app:
        yield app


@pytest.fixture()
def start_beat():
    """start_beat(env): a real `celery beat` of the scheduler, stopped after the test."""
    started = []

    def _start(env):
        args = [sys.executable, "-m", "celery", "-A", "scheduler_service.worker", "beat",
                "-S", "scheduler_service.beat:LockedScheduler", "--loglevel", "INFO"]  # fmt: skip
        started.append(BackgroundProcess(args, env).start())

    yield _start
    for beat in started:
        beat.stop()


CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
# The only routes anyone may call without a token, spelled here and not read from the code's own @public
# marks: a route marked public by mistake fails test_public_routes_are_exactly_the_listed_ones, and is still
# probed with bad tokens below.
PUBLIC_ROUTES = {("GET", "/health"), ("GET", "/ready"), ("GET", "/openapi.json")}


def _public(service, method, template):
    return template.startswith(service.prefix) and (method, template[len(service.prefix) :]) in PUBLIC_ROUTES


def protected_rules(app, service):
    """Every route but the listed public ones: (method, OpenAPI path template, a concrete URL)."""
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        template = CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        url = CONVERTER.sub(lambda m: "1" if m.group(1) == "int" else "x", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if not _public(service, method, template):
                rules.append((method, template, url))
    return rules


def test_public_routes_are_exactly_the_listed_ones(app, service):
    marked = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static" and getattr(app.view_functions[rule.endpoint], "is_public", False):
            template = CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
            marked |= {(method, template) for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    assert marked == {(method, service.prefix + path) for method, path in PUBLIC_ROUTES}


def test_health_needs_no_token_and_no_io(client, service):
    resp = client.get(f"{service.prefix}/health")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok", "service": service.name}
    assert resp.headers["X-TestFleet-Service"] == service.name


def test_ready_names_the_missing_worker(client, service):
    resp = client.get(f"{service.prefix}/ready")
    assert resp.status_code == 503
    body = resp.json["error"]
    assert body["code"] == "not_ready"
    assert "worker" in body["message"]
    checks = body["details"]["checks"]
    assert checks["database"]["ok"] and checks["redis"]["ok"]
    assert checks["worker"]["ok"] is False and service.queue in checks["worker"]["error"]


def test_ready_with_a_real_worker(client, service, redis_url, database_url, tmp_path, start_worker, start_beat):
    env = service_env(redis_url, database_url, tmp_path)
    start_worker(service.worker_module, service.queue, env)
    expected = {"database", "redis", "worker"}
    if service.has_beat:
        start_beat(env)  # the scheduler is ready only while a beat ticks
        expected.add("beat")
    wait_until(lambda: client.get(f"{service.prefix}/ready").status_code == 200, 60, 0.2, what="ready")
    assert set(client.get(f"{service.prefix}/ready").json["checks"]) == expected


def test_openapi_document_describes_every_route(client, service, app):
    resp = client.get(f"{service.prefix}/openapi.json")
    assert resp.status_code == 200
    doc = resp.json
    assert doc["openapi"].startswith("3.")
    assert f"{service.prefix}/health" in doc["paths"]
    assert "security" not in doc["paths"][f"{service.prefix}/health"]["get"]
    for method, template, _url in protected_rules(app, service):
        assert doc["paths"][template][method.lower()]["security"] == [{"bearerAuth": []}]
    for template, operations in doc["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"]["type"] == "string":  # ids; n is an integer
                    assert parameter["schema"]["pattern"] == f"^{ID_PATTERN}$", template


# The routes that start a run honour an Idempotency-Key (shared/src/shared/runs/idempotency.py); their documents say so.
START_ROUTES = {
    "web-test": "/api/v1/web-test/scripts/{script_id}/run",
    "perf-test": "/api/v1/perf-test/scenarios/{scenario_id}/run",
}


def test_start_routes_document_their_idempotency_key(client, service):
    doc = client.get(f"{service.prefix}/openapi.json").json
    declared = {
        template
        for template, operations in doc["paths"].items()
        for operation in operations.values()
        if any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    assert declared == ({START_ROUTES[service.name]} if service.name in START_ROUTES else set())


def _bad_tokens(make_token):
    now = int(time.time())
    expired = jwt.encode({"sub": "alice", "role": "admin", "exp": now - 10}, TEST_SECRET, algorithm="HS256")
    wrong_key = make_token("admin", secret="another-secret-0123456789abcdef0123456789")
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    claims = jwt.utils.base64url_encode(f'{{"sub":"alice","role":"admin","exp":{now + 600}}}'.encode()).decode()
    alg_none = f"{header}.{claims}."
    no_role = jwt.encode({"sub": "alice", "exp": now + 600}, TEST_SECRET, algorithm="HS256")
    return {"missing": None, "expired": expired, "bad signature": wrong_key, "alg none": alg_none, "no role": no_role}


def test_every_protected_endpoint_refuses_bad_tokens(client, app, service, make_token):
    rules = protected_rules(app, service)
    assert rules, "each service has protected endpoints (at least /me)"
    for method, _template, url in rules:
        for label, token in _bad_tokens(make_token).items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            resp = client.open(url, method=method, headers=headers, json={})
            assert resp.status_code == 401, f"{method} {url} with {label} token -> {resp.status_code}"
            assert resp.json["error"]["code"] == "unauthorized"


def test_me_reads_the_token(client, service, auth_header):
    resp = client.get(f"{service.prefix}/me", headers=auth_header("tester", "alice"))
    assert resp.status_code == 200
    assert resp.json == {"user": "alice", "role": "tester"}


def test_flask_errors_are_json(client, service, auth_header):
    missing = client.get(f"{service.prefix}/no-such-thing", headers=auth_header("admin"))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong_method = client.delete(f"{service.prefix}/health")
    assert wrong_method.status_code == 405 and wrong_method.json["error"]["code"] == "method_not_allowed"


def test_request_id_is_adopted_and_echoed(client, service):
    resp = client.get(f"{service.prefix}/health", headers={"X-Request-Id": "req-123"})
    assert resp.headers["X-Request-Id"] == "req-123"
    generated = client.get(f"{service.prefix}/health").headers["X-Request-Id"]
    assert len(generated) == 32


def test_migrations_upgrade_and_downgrade(service, database_url):
    settings_url = service_settings(service.settings_cls(), "redis://unused", database_url, "/tmp").sqlalchemy_url
    upgrade(service.package, settings_url)
    engine = create_engine(settings_url)
    tables = set(inspect(engine).get_table_names())
    version_table = f"alembic_version_{service.package.removesuffix('_service')}"
    assert version_table in tables
    assert len(tables) >= 3
    downgrade(service.package, settings_url)
    assert set(inspect(engine).get_table_names()) == {version_table}
    engine.dispose()


# Path ids no row can have: a NUL (PostgreSQL refuses it in text), quotes, bytes that are not UTF-8, too long.
HOSTILE_IDS = ["a%00b", "%00", "a'b", "a%22b", "%FF%FE", "x" * 65, "a%20b"]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_path_id_no_row_can_have_is_404_on_every_database(client, app, service, auth_header, hostile):
    routes = [(m, CONVERTER.sub(lambda found: "1" if found.group(1) == "int" else hostile, rule.rule))
              for rule in app.url_map.iter_rules() if "<" in rule.rule and rule.endpoint != "static"
              for m in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]  # fmt: skip
    assert len(routes) >= 3
    for method, url in routes:
        resp = client.open(url, method=method, headers=auth_header("admin"), json={})
        assert resp.status_code == 404, (method, url, resp.status_code, resp.get_data(as_text=True)[:300])
        assert resp.json["error"]["code"] == "not_found", (method, url)
