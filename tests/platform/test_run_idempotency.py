"""Starting a run with an Idempotency-Key: a repeat answers with the first start's run, never a second run.

Both run services are real apps on a real database (SQLite, or PostgreSQL when TEST_DATABASE_URL is set)
and Redis; the racing starts and the scheduler's timed-out firing go over real HTTP.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from werkzeug.serving import make_server

from scheduler_service import service as scheduler
from scheduler_service.config import SchedulerSettings
from shared import names, paths
from shared.runs import api
from shared.runs.idempotency import HEADER, REPLAYED_HEADER
from shared.testing import migrated_app, service_settings
from tests.platform.services import SERVICES

pytestmark = pytest.mark.timeout(120)


@dataclass(frozen=True)
class RunService:
    """A service whose runs start with POST <collection>/<id>/run: what to create, what to start it with."""

    name: str
    collection: str
    target: dict
    run_body: dict
    other_run_body: dict

    @property
    def service(self):
        return next(s for s in SERVICES if s.name == self.name)


SCRIPT = {"name": "home", "base_url": "http://127.0.0.1:1", "commands": [{"command": "open", "target": "/"}]}
SCENARIO = {"name": "home", "host": "http://127.0.0.1:1", "requests": [{"name": "home", "path": "/"}]}
RUN_SERVICES = [
    RunService(names.WEB_TEST_SERVICE, paths.SCRIPTS, SCRIPT, {"priority": 7}, {"priority": 8}),
    RunService(
        names.PERF_TEST_SERVICE,
        paths.SCENARIOS,
        SCENARIO,
        {"user_count": 1, "run_time": "5s"},
        {"user_count": 2, "run_time": "5s"},
    ),
]


@pytest.fixture(params=RUN_SERVICES, ids=[s.name for s in RUN_SERVICES])
def runs(request) -> RunService:
    return request.param


@pytest.fixture()
def app(runs, redis_url, database_url, tmp_path):
    settings = service_settings(runs.service.settings_cls(), redis_url, database_url, tmp_path)
    with migrated_app(runs.service.package, settings) as app:
        yield app


def create_target(client, runs: RunService, headers: dict) -> str:
    created = client.post(runs.collection, json=runs.target, headers=headers)
    assert created.status_code == 201, created.json
    return created.json["id"]


def start(client, runs: RunService, target_id: str, headers: dict, key: str | None, body: dict | None = None):
    with_key = {**headers, HEADER: key} if key is not None else headers
    return client.post(f"{runs.collection}/{target_id}/run", json=body or runs.run_body, headers=with_key)


def run_ids(client, runs: RunService, target_id: str, headers: dict) -> list[str]:
    history = client.get(f"{runs.collection}/{target_id}/runs?limit=500", headers=headers).json
    return [run["run_id"] for run in history["items"]]


def test_a_repeated_key_answers_with_the_first_run(runs, client, auth_header):
    alice = auth_header("tester", "alice")
    target = create_target(client, runs, alice)
    first = start(client, runs, target, alice, "nightly-1")
    assert first.status_code == 202 and first.json["replayed"] is False, first.json
    assert REPLAYED_HEADER not in first.headers

    for key in ("nightly-1", '"nightly-1"'):  # bare, or the quoted Structured Fields form
        again = start(client, runs, target, alice, key)
        assert again.status_code == 202 and again.json["replayed"] is True, again.json
        assert again.json["run_id"] == first.json["run_id"] and again.json["task_id"] == first.json["task_id"]
        assert again.headers[REPLAYED_HEADER] == "true"
    assert run_ids(client, runs, target, alice) == [first.json["run_id"]]

    # Once the run is over the key still names it: a late retry does not start a second run.
    assert client.post(f"{runs.collection}/{target}/stop", headers=alice).status_code == 202
    late = start(client, runs, target, alice, "nightly-1")
    assert late.status_code == 202 and late.json == {**first.json, "state": "stopped", "replayed": True}
    # A new key is a new start; without a key nothing changed (409 while a run is active).
    second = start(client, runs, target, alice, "nightly-2")
    assert second.status_code == 202 and second.json["replayed"] is False
    assert start(client, runs, target, alice, None).status_code == 409
    assert run_ids(client, runs, target, alice) == [second.json["run_id"], first.json["run_id"]]


def test_a_key_reused_for_another_request_is_a_422_naming_the_header(runs, client, auth_header):
    alice, admin = auth_header("tester", "alice"), auth_header("admin", "root")
    target, other_target = create_target(client, runs, alice), create_target(client, runs, alice)
    assert start(client, runs, target, alice, "k").status_code == 202

    for refused in (
        start(client, runs, target, alice, "k", runs.other_run_body),  # another body
        start(client, runs, other_target, alice, "k"),  # another target
        start(client, runs, target, admin, "k"),  # another user, on alice's script or scenario
    ):
        assert refused.status_code == 422, refused.json
        error = refused.json["error"]
        assert error["message"].startswith(HEADER) and error["details"][0]["field"] == HEADER
    assert len(run_ids(client, runs, target, alice)) == 1 and run_ids(client, runs, other_target, alice) == []

    # Keys are the owner's: bob may use the same one for his own run.
    bob = auth_header("tester", "bob")
    assert start(client, runs, create_target(client, runs, bob), bob, "k").json["replayed"] is False


@pytest.mark.parametrize("key", ["", "   ", '""', "x" * 256, "clé", "a\tb"])
def test_a_malformed_key_is_a_400_naming_the_header(runs, client, auth_header, key):
    alice = auth_header("tester", "alice")
    target = create_target(client, runs, alice)
    refused = start(client, runs, target, alice, key)
    assert refused.status_code == 400, refused.json
    assert refused.json["error"]["details"][0]["field"] == HEADER
    assert run_ids(client, runs, target, alice) == []


@pytest.mark.parametrize("earlier_state", ["queued", "stopped"])
def test_a_start_that_loses_the_race_after_its_lookup_answers_with_the_winner(
    runs, client, auth_header, monkeypatch, earlier_state
):
    # The winner commits between the loser's lookup and its insert: the loser's lookup finds nothing, then the
    # database refuses its row (the active-run check while the winner is queued, the key's unique index after).
    alice = auth_header("tester", "alice")
    target = create_target(client, runs, alice)
    winner = start(client, runs, target, alice, "k").json
    if earlier_state == "stopped":
        assert client.post(f"{runs.collection}/{target}/stop", headers=alice).status_code == 202
    lookup, calls = api.run_started_with, []

    def too_early_once(*args, **kwargs):
        calls.append(args)
        return None if len(calls) == 1 else lookup(*args, **kwargs)

    monkeypatch.setattr(api, "run_started_with", too_early_once)
    loser = start(client, runs, target, alice, "k")
    assert loser.status_code == 202 and loser.json["replayed"] is True, loser.json
    assert loser.json["run_id"] == winner["run_id"] and len(calls) == 2
    assert run_ids(client, runs, target, alice) == [winner["run_id"]]


def test_a_start_the_broker_refused_frees_its_key(runs, app, client, auth_header, monkeypatch):
    alice = auth_header("tester", "alice")
    target = create_target(client, runs, alice)
    celery = app.extensions["celery"]
    send_task = celery.send_task

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(celery, "send_task", broker_down)
    assert start(client, runs, target, alice, "k").status_code == 503
    monkeypatch.setattr(celery, "send_task", send_task)
    retried = start(client, runs, target, alice, "k")
    assert retried.status_code == 202 and retried.json["replayed"] is False, retried.json
    assert len(run_ids(client, runs, target, alice)) == 2  # the refused start's run (error) and the retry's


# --- over HTTP: racing starts, and a firing whose first answer never arrived ----------------------


class LateFirstAnswer:
    """WSGI middleware: the first run start is handled in full (its run is created) but answered only once
    the test releases it, after the client gave up waiting; every other request is answered at once."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.held = False
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        chunks = list(self.app(environ, start_response))
        is_start = environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/run")
        with self.lock:
            hold, self.held = is_start and not self.held, self.held or is_start
        if hold:
            self.release.wait(30)
        return chunks


@pytest.fixture()
def served(app) -> Iterator[tuple[str, LateFirstAnswer]]:
    """The service's app on a real threaded HTTP server (base URL, the late-answer middleware)."""
    middleware = LateFirstAnswer(app.wsgi_app)
    middleware.held = True  # off unless a test turns it on
    server = make_server("127.0.0.1", 0, middleware, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", middleware
    middleware.release.set()
    server.shutdown()
    thread.join(10)


def post(url: str, body: dict, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 (a test server's URL)
        url, data=json.dumps(body).encode(), method="POST", headers={**headers, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_racing_starts_with_one_key_make_one_run(runs, client, served, auth_header):
    alice = auth_header("tester", "alice")
    target = create_target(client, runs, alice)
    base_url, _ = served
    racers, barrier, answers = 6, threading.Barrier(6), []

    def race():
        barrier.wait(10)
        answers.append(post(f"{base_url}{runs.collection}/{target}/run", runs.run_body, {**alice, HEADER: "k"}))

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == racers and {status for status, _ in answers} == {202}, answers
    assert len({body["run_id"] for _, body in answers}) == 1
    assert sorted(body["replayed"] for _, body in answers) == [False] + [True] * (racers - 1)
    assert run_ids(client, runs, target, alice) == [answers[0][1]["run_id"]]


def test_a_firing_whose_answer_timed_out_is_retried_into_the_same_run(
    runs, client, served, auth_header, redis_url, database_url, tmp_path
):
    base_url, late = served
    urls = {"web_test_url": base_url, "perf_test_url": base_url}
    settings = service_settings(
        SchedulerSettings, redis_url, database_url, tmp_path / "scheduler", schedule_fire_timeout_s=1, **urls
    )
    alice = auth_header("tester", "alice")
    target = create_target(client, runs, alice)
    with migrated_app("scheduler_service", settings) as scheduler_app:
        schedule = scheduler_app.test_client().post(
            paths.SCHEDULES,
            json={"name": "nightly", "cron": "30 2 * * *", "timezone": "Europe/Berlin",
                  "target": {"kind": runs.name, "id": target, "params": runs.run_body}},
            headers=alice,
        ).json  # fmt: skip
        session = scheduler_app.extensions["db"].session
        slot = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 02:30 in Berlin, the first of the two that night
        late.held = False  # hold the next start's answer past the firing's 1 s timeout

        def fire() -> dict:
            outcome = scheduler.fire_schedule(
                session=session, settings=settings, schedule_id=schedule["id"], trigger="cron", slot=slot
            )
            assert outcome is not None
            return outcome

        timed_out = fire()
        assert timed_out["status"] == "error" and timed_out["retryable"] is True, timed_out
        # The service did create the run; only its answer was lost.
        [created] = run_ids(client, runs, target, alice)
        late.release.set()
        retried = fire()  # what the fire_schedule task's retry does: the same schedule and slot
    assert retried["status"] == "started" and retried["run_id"] == created, retried
    assert run_ids(client, runs, target, alice) == [created]
