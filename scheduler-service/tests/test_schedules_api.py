"""The schedules API: CRUD, ownership, validation, pagination, next fire times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.timeout(60)

URL = "/api/v1/schedules"


def body(**overrides) -> dict:
    return {
        "name": "nightly smoke",
        "cron": "0 9 * * *",
        "timezone": "Europe/Berlin",
        "target": {"kind": "web-test", "id": "script1", "params": {"priority": 3}},
        "enabled": True,
        **overrides,
    }


def create(client, auth_header, user="alice", role="tester", **overrides):
    resp = client.post(URL, json=body(**overrides), headers=auth_header(role, user))
    assert resp.status_code == 201, resp.json
    return resp.json


def test_create_read_and_next_fire_times(client, auth_header):
    before = datetime.now(UTC)  # not "now" after the call: 09:00 Berlin may pass in between
    created = create(client, auth_header)
    assert created["owner"] == "alice" and created["owner_role"] == "tester"
    assert created["target"] == {"kind": "web-test", "id": "script1", "params": {"priority": 3}}
    assert created["last_outcome"] is None and created["last_fired_at"] is None
    times = created["next_fire_times"]
    assert len(times) == 5 and all(t.endswith("Z") for t in times)
    parsed = [datetime.fromisoformat(t) for t in times]
    assert parsed == sorted(parsed) and parsed[0] > before
    # 09:00 in Berlin is 07:00 or 08:00 UTC depending on DST.
    assert all(p.hour in (7, 8) and p.minute == 0 for p in parsed)

    got = client.get(f"{URL}/{created['id']}", headers=auth_header("tester", "alice"))
    assert got.status_code == 200 and got.json["id"] == created["id"] and len(got.json["next_fire_times"]) == 5


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"cron": "61 * * * *"}, "cron", "not a valid cron"),
        ({"cron": "* * *"}, "cron", "5 fields"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown timezone"),
        ({"target": {"kind": "ftp", "id": "x"}}, "target.kind", ""),
        ({"target": {"kind": "web-test", "id": "../admin"}}, "target.id", ""),
        ({"name": ""}, "name", ""),
        # Wrong types and sizes (issue 11): JSON's types are taken as they are.
        ({"enabled": "yes"}, "enabled", "valid boolean"),
        ({"name": 5}, "name", "valid string"),
        ({"cron": ["0 3 * * *"]}, "cron", "valid string"),
        ({"target": {"kind": "web-test", "id": "x", "params": [1]}}, "target.params", "valid dictionary"),
        ({"target": {"kind": "web-test", "id": "x", "params": {f"p{i}": i for i in range(51)}}}, "target.params", "50"),
    ],
)
def test_invalid_input_is_422_naming_the_field(client, auth_header, overrides, field, reason):
    resp = client.post(URL, json=body(**overrides), headers=auth_header("tester"))
    assert resp.status_code == 422, resp.json
    error = resp.json["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == field
    assert reason in error["details"][0]["message"]
    assert error["message"].startswith(field)


def test_malformed_json_is_400_and_missing_body_422(client, auth_header):
    resp = client.post(URL, data="{nope", content_type="application/json", headers=auth_header("tester"))
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_json"
    # JSON that is not an object is refused as every service refuses it (shared/src/shared/body.py).
    resp = client.post(URL, json=[1, 2], headers=auth_header("tester"))
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_json"
    resp = client.post(URL, headers=auth_header("tester"))
    assert resp.status_code == 422 and resp.json["error"]["details"][0]["field"] == "name"


def test_ownership_tester_viewer_admin(client, auth_header):
    mine = create(client, auth_header, "alice")
    theirs = create(client, auth_header, "bob")
    by_admin = create(client, auth_header, "root", role="admin")
    assert by_admin["owner_role"] == "admin"

    listed = client.get(URL, headers=auth_header("tester", "alice")).json
    assert listed["total"] == 1 and [s["id"] for s in listed["items"]] == [mine["id"]]
    for method in ("get", "put", "patch", "delete"):
        resp = client.open(
            f"{URL}/{theirs['id']}", method=method.upper(), json=body(), headers=auth_header("tester", "alice")
        )
        assert resp.status_code == 404, method
    assert client.post(f"{URL}/{theirs['id']}/trigger", headers=auth_header("tester", "alice")).status_code == 404

    # A viewer reads everything and changes nothing.
    assert client.get(URL, headers=auth_header("viewer")).json["total"] == 3
    assert client.get(f"{URL}/{theirs['id']}", headers=auth_header("viewer")).status_code == 200
    assert client.post(URL, json=body(), headers=auth_header("viewer")).status_code == 403
    assert client.put(f"{URL}/{theirs['id']}", json=body(), headers=auth_header("viewer")).status_code == 403
    assert client.delete(f"{URL}/{theirs['id']}", headers=auth_header("viewer")).status_code == 403
    assert client.post(f"{URL}/{theirs['id']}/trigger", headers=auth_header("viewer")).status_code == 403

    # An admin changes anyone's; the owner stays.
    resp = client.put(f"{URL}/{theirs['id']}", json=body(name="renamed"), headers=auth_header("admin", "root"))
    assert resp.status_code == 200 and resp.json["name"] == "renamed" and resp.json["owner"] == "bob"
    assert client.get(URL, headers=auth_header("admin")).json["total"] == 3


def test_put_replaces_and_disables_patch_enables_delete(client, auth_header):
    sch = create(client, auth_header)
    put = client.put(
        f"{URL}/{sch['id']}",
        json={k: sch[k] for k in ("name", "cron", "timezone", "target")} | {"enabled": False, "cron": "*/15 * * * *"},
        headers=auth_header("tester", "alice"),
    )
    assert put.status_code == 200, put.json
    assert put.json["enabled"] is False and put.json["cron"] == "*/15 * * * *"
    assert all(datetime.fromisoformat(t).minute % 15 == 0 for t in put.json["next_fire_times"])

    # The whole GET body sent back is accepted (read-only fields ignored).
    again = client.put(f"{URL}/{sch['id']}", json=put.json | {"name": "again"}, headers=auth_header("tester", "alice"))
    assert again.status_code == 200 and again.json["name"] == "again"

    patched = client.patch(f"{URL}/{sch['id']}", json={"enabled": True}, headers=auth_header("tester", "alice"))
    assert patched.status_code == 200 and patched.json["enabled"] is True and patched.json["name"] == "again"
    bad = client.patch(f"{URL}/{sch['id']}", json={"cron": "61 * * * *"}, headers=auth_header("tester", "alice"))
    assert bad.status_code == 422 and bad.json["error"]["details"][0]["field"] == "cron"

    assert client.delete(f"{URL}/{sch['id']}", headers=auth_header("tester", "alice")).status_code == 204
    assert client.get(f"{URL}/{sch['id']}", headers=auth_header("tester", "alice")).status_code == 404


def test_pagination(client, auth_header):
    ids = [create(client, auth_header, name=f"s{i}")["id"] for i in range(5)]
    page = client.get(f"{URL}?limit=2&offset=1", headers=auth_header("tester", "alice")).json
    assert page["total"] == 5 and len(page["items"]) == 2
    assert [s["id"] for s in page["items"]] == list(reversed(ids))[1:3]
    bad = client.get(f"{URL}?limit=zero", headers=auth_header("tester", "alice"))
    assert bad.status_code == 422 and bad.json["error"]["details"][0]["field"] == "limit"


def test_openapi_documents_the_schedules(client):
    doc = client.get("/api/v1/scheduler/openapi.json").json
    paths = doc["paths"]
    assert set(paths["/api/v1/schedules"]) == {"get", "post"}
    assert set(paths["/api/v1/schedules/{schedule_id}"]) == {"get", "put", "patch", "delete"}
    assert "post" in paths["/api/v1/schedules/{schedule_id}/trigger"]
    assert "get" in paths["/api/v1/scheduler/jobs"]
    assert "ScheduleCreate" in doc["components"]["schemas"] and "ScheduleRead" in doc["components"]["schemas"]
    assert "202" in paths["/api/v1/schedules/{schedule_id}/trigger"]["post"]["responses"]
