"""The webhooks API: the secret shown once, ownership, the target policy on the URL, rotation, validation."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)

URL = "/api/v1/webhooks"


@pytest.fixture()
def settings_overrides(target) -> dict:
    # Test receivers listen on 127.0.0.1, which (as for load tests) must be named to be reachable.
    return {"web_test_url": target.url, "perf_test_url": target.url, "webhook_allowed_hosts": "127.0.0.1,*"}


def body(**overrides) -> dict:
    return {"name": "team chat", "url": "http://127.0.0.1:9/hook", "format": "json", **overrides}


def create(client, auth_header, user="alice", role="tester", **overrides) -> dict:
    resp = client.post(URL, json=body(**overrides), headers=auth_header(role, user))
    assert resp.status_code == 201, resp.json
    return resp.json


def test_the_secret_is_shown_at_creation_only(client, auth_header):
    created = create(client, auth_header, events=["run.finished", "run.became_failing"])
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["run.finished", "run.became_failing"]
    assert created["filters"] == {"kinds": [], "project_ids": [], "script_ids": [], "scenario_ids": []}
    read = client.get(f"{URL}/{created['id']}", headers=auth_header("tester", "alice")).json
    listed = client.get(URL, headers=auth_header("tester", "alice")).json
    assert "secret" not in read and all("secret" not in item for item in listed["items"])
    assert read["url"] == created["url"] and listed["total"] == 1


def test_every_event_by_default(client, auth_header):
    created = create(client, auth_header)
    assert set(created["events"]) == {
        "run.queued", "run.started", "run.finished", "run.became_failing", "run.became_passing",
    }  # fmt: skip


def test_owners_see_their_own_and_admins_all(client, auth_header):
    alices = create(client, auth_header, user="alice")
    bobs = create(client, auth_header, user="bob")
    assert client.get(f"{URL}/{bobs['id']}", headers=auth_header("tester", "alice")).status_code == 404
    alice_list = client.get(URL, headers=auth_header("tester", "alice")).json
    assert [item["id"] for item in alice_list["items"]] == [alices["id"]]
    admin_list = client.get(URL, headers=auth_header("admin", "root")).json
    assert {item["id"] for item in admin_list["items"]} == {alices["id"], bobs["id"]}
    # A webhook URL may hold a credential: viewers may not read webhooks at all.
    assert client.get(URL, headers=auth_header("viewer", "vera")).status_code == 403
    deleted = client.delete(f"{URL}/{bobs['id']}", headers=auth_header("tester", "alice"))
    assert deleted.status_code == 404
    assert client.delete(f"{URL}/{bobs['id']}", headers=auth_header("admin", "root")).status_code == 204


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://100.100.100.200/",
        "http://10.0.0.1@169.254.169.254/",
    ],
)
def test_metadata_and_link_local_urls_are_refused(client, auth_header, url):
    resp = client.post(URL, json=body(url=url), headers=auth_header("tester", "alice"))
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["details"][0]["field"] == "url"
    assert client.get(URL, headers=auth_header("tester", "alice")).json["total"] == 0  # nothing half written


def test_the_platforms_own_endpoints_are_refused(client, auth_header, settings):
    redis_port = settings.redis_url.rsplit(":", 1)[1].split("/")[0]
    resp = client.post(URL, json=body(url=f"http://127.0.0.1:{redis_port}/"), headers=auth_header("tester", "alice"))
    assert resp.status_code == 422 and "platform's own endpoints" in resp.json["error"]["details"][0]["message"]


def test_a_changed_url_passes_the_policy_too(client, auth_header):
    created = create(client, auth_header)
    resp = client.patch(
        f"{URL}/{created['id']}", json={"url": "http://169.254.169.254/"}, headers=auth_header("tester", "alice")
    )
    assert resp.status_code == 422 and resp.json["error"]["details"][0]["field"] == "url"
    after = client.get(f"{URL}/{created['id']}", headers=auth_header("tester", "alice")).json
    assert after["url"] == created["url"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "gopher://127.0.0.1/"}, "url"),
        ({"events": ["run.exploded"]}, "events"),
        ({"events": []}, "events"),
        ({"format": "xml"}, "format"),
        ({"filters": {"kinds": ["mainframe"]}}, "filters"),
        ({"filters": {"colour": []}}, "filters"),
        ({"enabled": "yes"}, "enabled"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_bodies_name_the_field(client, auth_header, overrides, field):
    resp = client.post(URL, json=body(**overrides), headers=auth_header("tester", "alice"))
    assert resp.status_code == 422, resp.json
    assert any(detail["field"].startswith(field) for detail in resp.json["error"]["details"]), resp.json


def test_rotation_keeps_the_previous_secret_valid_for_a_day(client, auth_header, app):
    from scheduler_service.models import Webhook

    created = create(client, auth_header)
    rotated = client.post(f"{URL}/{created['id']}/rotate-secret", headers=auth_header("tester", "alice"))
    assert rotated.status_code == 200, rotated.json
    assert rotated.json["secret"] != created["secret"] and rotated.json["previous_secret_expires_at"]
    with app.app_context():
        webhook = app.extensions["db"].session.get(Webhook, created["id"])
        assert (webhook.secret, webhook.previous_secret) == (rotated.json["secret"], created["secret"])
        hours = (webhook.previous_secret_expires_at - webhook.updated_at).total_seconds() / 3600
        assert 23.9 < hours <= 24


def test_enabling_again_clears_the_platforms_reason(client, auth_header, app):
    from scheduler_service.models import Webhook

    created = create(client, auth_header)
    with app.app_context():
        session = app.extensions["db"].session
        webhook = session.get(Webhook, created["id"])
        webhook.enabled, webhook.disabled_reason = False, "the receiver answered 410 Gone"
        session.commit()
    shown = client.get(f"{URL}/{created['id']}", headers=auth_header("tester", "alice")).json
    assert shown["enabled"] is False and shown["disabled_reason"] == "the receiver answered 410 Gone"
    enabled = client.patch(f"{URL}/{created['id']}", json={"enabled": True}, headers=auth_header("tester", "alice"))
    assert enabled.json["enabled"] is True and enabled.json["disabled_reason"] is None
