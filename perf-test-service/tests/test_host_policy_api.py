"""The issue's addresses through the API and the worker's claim: IPv4-in-IPv6 metadata under an allow-all, and an
allow-all CIDR that must not open loopback (the platform's own Redis)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from perf_test_service.config import PerfTestSettings
from perf_test_service.execution import execute_run
from perf_test_service.models import Run, Scenario
from shared.redis_client import redis_from_url
from shared.testing import migrated_app, service_settings

pytestmark = pytest.mark.timeout(120)
API = "/api/v1/perf-test"
METADATA_IN_V6 = ["http://[64:ff9b::a9fe:a9fe]", "http://[2002:a9fe:a9fe::]", "http://[::a9fe:a9fe]"]
BODY = {"name": "t", "requests": [{"path": "/"}]}


@pytest.fixture(params=["*", "0.0.0.0/0,::/0"], ids=["star", "all-cidrs"])
def open_app(request, redis_url, database_url, tmp_path):
    settings = service_settings(PerfTestSettings, redis_url, database_url, tmp_path, perf_allowed_hosts=request.param)
    with migrated_app("perf_test_service", settings) as app:
        yield app


def refused(resp, host: str) -> bool:
    shown = host.split("//", 1)[1].strip("[]").replace("::ffff:", "")  # a mapped address is named as its IPv4
    return (
        resp.status_code == 422
        and resp.json["error"]["details"][0]["field"] == "host"
        and (shown in resp.json["error"]["message"])
    )


@pytest.mark.parametrize("host", [*METADATA_IN_V6, "http://127.0.0.1", "http://[::ffff:127.0.0.1]", "http://localhost"])
def test_allow_all_refuses_metadata_in_v6_and_loopback_at_save_and_run(open_app, auth_header, host):
    client, alice = open_app.test_client(), auth_header("tester", "alice")
    resp = client.post(f"{API}/scenarios", json={**BODY, "host": host}, headers=alice)
    assert refused(resp, host), resp.json
    # A scenario saved before (the host changed in the database since) is refused when a run is asked for ...
    sid = client.post(f"{API}/scenarios", json={**BODY, "host": "http://192.0.2.10"}, headers=alice).json["id"]
    sessions = open_app.extensions["db"].session_factory
    with sessions() as session:
        session.execute(update(Scenario).where(Scenario.id == sid).values(host=host))
        session.commit()
    resp = client.post(f"{API}/scenarios/{sid}/run", json={"user_count": 1, "run_time": 1}, headers=alice)
    assert resp.status_code == 422 and resp.json["error"]["details"][0]["field"] == "host", resp.json


@pytest.mark.parametrize("host", [*METADATA_IN_V6, "http://127.0.0.1:6379"])
def test_the_worker_refuses_them_at_claim(open_app, host):
    sessions = open_app.extensions["db"].session_factory
    settings = open_app.extensions["settings"]
    with sessions() as session:
        scenario = Scenario(owner="alice", name="t", host=host, definition={**BODY, "host": host})
        session.add(scenario)
        session.flush()
        run = Run(owner="alice", scenario_id=scenario.id, scenario_name="t", state="queued", priority=5,
                  time_limit_s=60, params={"user_count": 1, "spawn_rate": 1, "run_time": 1, "workers": 0})  # fmt: skip
        session.add(run)
        session.commit()
        run_id = run.id
    outcome = execute_run(run_id, sessions=sessions, redis=redis_from_url(settings.redis_url), settings=settings)
    assert outcome.state == "error"
    with sessions() as session:
        error = session.get(Run, run_id).error
    named = host.split("//", 1)[1].rsplit(":", 1)[0] if host.count(":") == 2 else host.split("//", 1)[1]
    assert error["code"] == "host_not_allowed" and named.strip("[]") in error["message"], error


def test_an_allow_all_cidr_never_admits_the_platforms_redis(open_app):
    policy = open_app.extensions["settings"].host_policy
    redis_port = int(open_app.extensions["settings"].redis_url.rsplit(":", 1)[1].split("/")[0])
    for host in ("127.0.0.1", "::1", "127.0.0.2", "0.0.0.0", "::ffff:127.0.0.1"):
        for port in (redis_port, 8080):
            with pytest.raises(ValueError):
                policy.check(host, port)
