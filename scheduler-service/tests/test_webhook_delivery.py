"""Webhook delivery against a real HTTP receiver: signed, in order, retried, dead, disabled, and redelivered
after the delivering worker is SIGKILLed."""

from __future__ import annotations

import json
import signal
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from webhook_recipe import documented_recipe

from scheduler_service import webhook_delivery
from scheduler_service.models import Webhook, WebhookDelivery
from shared import names
from shared.db import utcnow
from shared.redis_client import redis_from_url
from shared.testing import service_env, wait_until

pytestmark = pytest.mark.timeout(120)
URL = "/api/v1/webhooks"


class Receiver:
    """A real HTTP receiver: records each POST (headers, raw body) and answers from a script of replies."""

    def __init__(self):
        self.received: list[dict] = []
        self.replies: list[tuple[int, dict]] = []  # (status, headers) for the next requests; then 200
        self.hold = threading.Event()  # while set, requests wait (a receiver that hangs)
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                    status, headers = receiver.replies.pop(0) if receiver.replies else (200, {})
                receiver.arrived.set()
                held_until = time.monotonic() + 60  # a held request still answers within a deadline
                while receiver.hold.is_set() and time.monotonic() < held_until:
                    time.sleep(0.05)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self) -> list[dict]:
        with self._lock:
            return [json.loads(item["body"]) for item in self.received]


@pytest.fixture()
def receiver():
    server = Receiver()
    server.thread.start()
    yield server
    server.hold.clear()
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture()
def settings_overrides(target) -> dict:
    return {
        "web_test_url": target.url,
        "perf_test_url": target.url,
        "webhook_allowed_hosts": "127.0.0.1",
        "webhook_retry_schedule_s": "0,0,0",  # retries due at once: the tests call deliver_due themselves
        "webhook_timeout_s": 5,
        "webhook_lease_s": 15,
    }


@pytest.fixture()
def redis(settings):
    return redis_from_url(settings.redis_url)


def run_event(n: int, *, kind="web", state="passed", owner="alice", target_id="s1", type_="run.finished") -> dict:
    return {
        "id": f"evt_{n:032x}",
        "type": type_,
        "created_at": "2026-12-02T10:00:00Z",
        "data": {"kind": kind, "run_id": f"r{n}", "state": state, "owner": owner, "target": {"id": target_id}},
    }


def make_webhook(client, auth_header, url, user="alice", role="tester", **fields) -> dict:
    resp = client.post(URL, json={"name": "ci", "url": url, **fields}, headers=auth_header(role, user))
    assert resp.status_code == 201, resp.json
    return resp.json


def deliveries(session, webhook_id) -> list[WebhookDelivery]:
    session.expire_all()
    query = session.query(WebhookDelivery).filter_by(webhook_id=webhook_id).order_by(WebhookDelivery.created_at)
    return list(query)


def verify(secret: str, item: dict) -> bool:
    recipe = documented_recipe()
    return recipe["verify"](secret, item["headers"], item["body"]) and recipe["verify_github_style"](
        secret, {"X-Hub-Signature-256": item["headers"]["x-hub-signature-256"]}, item["body"]
    )


def test_events_arrive_signed_in_order_once_each(client, auth_header, session, settings, redis, receiver):
    hook = make_webhook(client, auth_header, receiver.url)
    events = [run_event(n) for n in range(5)]
    for event in events:
        assert webhook_delivery.enqueue_event(session, event) == [hook["id"]]
    assert webhook_delivery.enqueue_event(session, events[0]) == [hook["id"]]  # a redelivered message: no new row
    assert webhook_delivery.deliver_due(session, settings, redis, hook["id"])["delivered"] == 5
    assert [event["id"] for event in receiver.events()] == [event["id"] for event in events]
    assert [item["headers"]["webhook-id"] for item in receiver.received] == [event["id"] for event in events]
    assert all(verify(hook["secret"], item) for item in receiver.received)
    log = client.get(f"{URL}/{hook['id']}/deliveries", headers=auth_header("tester", "alice")).json
    assert log["total"] == 5 and {item["state"] for item in log["items"]} == {"delivered"}
    assert log["items"][0]["log"][0]["status_code"] == 200 and log["items"][0]["attempts"] == 1


def test_filters_and_owners_choose_the_webhooks(client, auth_header, session):
    mine = make_webhook(client, auth_header, "http://127.0.0.1:9/a", filters={"kinds": ["perf"]})
    failing_only = make_webhook(client, auth_header, "http://127.0.0.1:9/b", events=["run.became_failing"])
    admins = make_webhook(client, auth_header, "http://127.0.0.1:9/c", user="root", role="admin")
    assert set(webhook_delivery.enqueue_event(session, run_event(1, kind="perf"))) == {admins["id"], mine["id"]}
    assert webhook_delivery.enqueue_event(session, run_event(2, owner="bob")) == [admins["id"]]
    failing = run_event(3, type_="run.became_failing", state="failed")
    assert set(webhook_delivery.enqueue_event(session, failing)) == {failing_only["id"], admins["id"]}


def test_a_500_is_retried_until_delivered(client, auth_header, session, settings, redis, receiver):
    hook = make_webhook(client, auth_header, receiver.url)
    receiver.replies = [(500, {}), (503, {})]
    webhook_delivery.enqueue_event(session, run_event(1))
    counts = webhook_delivery.deliver_due(session, settings, redis, hook["id"])
    assert counts == {"delivered": 1, "pending": 2, "dead": 0}
    [delivery] = deliveries(session, hook["id"])
    assert [entry["status_code"] for entry in delivery.log] == [500, 503, 200] and delivery.attempts == 3
    assert len({item["headers"]["webhook-id"] for item in receiver.received}) == 1  # one event id throughout


def test_retry_after_is_honoured(client, auth_header, session, settings, redis, receiver):
    hook = make_webhook(client, auth_header, receiver.url)
    slow = settings.model_copy(update={"webhook_retry_schedule_s": "1,60"})
    receiver.replies = [(429, {"Retry-After": "30"})]
    webhook_delivery.enqueue_event(session, run_event(1))
    before = utcnow()
    assert webhook_delivery.deliver_due(session, slow, redis, hook["id"]) == {"delivered": 0, "pending": 1, "dead": 0}
    [delivery] = deliveries(session, hook["id"])
    wait_s = (delivery.next_attempt_at - before).total_seconds()
    assert delivery.state == "pending" and 29 < wait_s < 35, wait_s  # the schedule alone said about 1 s
    assert webhook_delivery.retry_after("120") == 120.0 and webhook_delivery.retry_after("soon") is None


def test_the_last_failure_makes_it_dead_and_a_410_disables(client, auth_header, session, settings, redis, receiver):
    hook = make_webhook(client, auth_header, receiver.url)
    receiver.replies = [(500, {})] * 4
    webhook_delivery.enqueue_event(session, run_event(1))
    assert webhook_delivery.deliver_due(session, settings, redis, hook["id"]) == {
        "delivered": 0,
        "pending": 3,
        "dead": 1,
    }
    receiver.replies = [(410, {})]
    webhook_delivery.enqueue_event(session, run_event(2))
    webhook_delivery.deliver_due(session, settings, redis, hook["id"])
    shown = client.get(f"{URL}/{hook['id']}", headers=auth_header("tester", "alice")).json
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    assert webhook_delivery.enqueue_event(session, run_event(3)) == []  # a disabled webhook hears nothing


def test_failing_for_days_disables_with_the_reason(client, auth_header, session, settings, redis, receiver):
    hook = make_webhook(client, auth_header, receiver.url)
    webhook = session.get(Webhook, hook["id"])
    webhook.failing_since = utcnow() - timedelta(days=5, minutes=1)
    session.commit()
    receiver.replies = [(502, {})]
    webhook_delivery.enqueue_event(session, run_event(1))
    webhook_delivery.deliver_due(session, settings, redis, hook["id"])
    shown = client.get(f"{URL}/{hook['id']}", headers=auth_header("tester", "alice")).json
    assert shown["enabled"] is False and "failed for 5.0 days" in shown["disabled_reason"]


def test_redeliver_and_test_events(client, auth_header, session, settings, redis, receiver):
    hook = make_webhook(client, auth_header, receiver.url)
    sent = client.post(f"{URL}/{hook['id']}/test", headers=auth_header("tester", "alice"))
    assert sent.status_code == 202 and sent.json["event_type"] == "webhook.test"
    webhook_delivery.deliver_due(session, settings, redis, hook["id"])
    again = client.post(
        f"{URL}/{hook['id']}/deliveries/{sent.json['id']}/redeliver", headers=auth_header("tester", "alice")
    )
    assert again.status_code == 202
    webhook_delivery.deliver_due(session, settings, redis, hook["id"])
    assert [event["type"] for event in receiver.events()] == ["webhook.test", "webhook.test"]
    assert len({item["headers"]["webhook-id"] for item in receiver.received}) == 1
    other = client.post(f"{URL}/{hook['id']}/test", headers=auth_header("tester", "bob"))
    assert other.status_code == 404


def test_a_url_that_now_resolves_inside_is_not_posted_to(client, auth_header, session, settings, redis, receiver):
    hook = make_webhook(client, auth_header, receiver.url)
    webhook = session.get(Webhook, hook["id"])
    webhook.url = "http://169.254.169.254/latest"  # as if its name had been re-pointed after creation
    session.commit()
    webhook_delivery.enqueue_event(session, run_event(1))
    webhook_delivery.deliver_due(session, settings, redis, hook["id"])
    [delivery] = deliveries(session, hook["id"])
    assert "WEBHOOK_ALLOWED_HOSTS" in delivery.log[0]["error"] and delivery.log[0]["status_code"] is None


def test_a_worker_killed_mid_delivery_is_redelivered_by_the_sweep(
    client, auth_header, session, settings, receiver, start_worker, redis_url, database_url, tmp_path
):
    hook = make_webhook(client, auth_header, receiver.url)
    env = service_env(redis_url, database_url, tmp_path, WEBHOOK_ALLOWED_HOSTS="127.0.0.1", WEBHOOK_LEASE_S="15")
    worker = start_worker("scheduler_service.worker", names.WEBHOOKS_QUEUE, env)
    receiver.hold.set()  # the first POST hangs inside the worker
    webhook_delivery.enqueue_event(session, run_event(1))
    celery = client.application.extensions["celery"]
    celery.send_task(names.WEBHOOKS_DELIVER, kwargs={"webhook_id": hook["id"]})
    assert receiver.arrived.wait(30), "the worker never posted"
    worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait(10)
    receiver.hold.clear()
    start_worker("scheduler_service.worker", names.WEBHOOKS_QUEUE, env)

    def delivered():
        celery.send_task(names.WEBHOOKS_SWEEP)  # what beat sends every few seconds
        return [d for d in deliveries(session, hook["id"]) if d.state == "delivered"]

    wait_until(delivered, 60, 1.0, what="the delivery redelivered after the kill")
    ids = {item["headers"]["webhook-id"] for item in receiver.received}
    assert len(receiver.received) >= 2 and ids == {run_event(1)["id"]}
