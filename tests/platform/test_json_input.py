"""Every service reads the same JSON: NaN and Infinity are a 400, unstorable values a 422 naming the field.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (which refuses NaN in JSON and NUL in text).
"""

from __future__ import annotations

import json

import pytest

from shared.json_input import MAX_DEPTH
from shared.testing import migrated_app, service_settings
from tests.platform.services import SERVICES

pytestmark = pytest.mark.timeout(120)

# Per service: a collection, a valid body for it, and where in that body a free-form value may go.
CREATE = {
    "web-test": ("/api/v1/web-test/scripts", {"name": "s", "commands": [{"command": "open", "target": "/"}]}),
    "perf-test": (
        "/api/v1/perf-test/scenarios",
        {"name": "s", "host": "http://127.0.0.1:9", "requests": [{"path": "/", "json": {"ok": 1}}]},
    ),
    "scheduler": (
        "/api/v1/schedules",
        {"name": "s", "cron": "0 3 * * *", "target": {"kind": "web-test", "id": "abc", "params": {"ok": 1}}},
    ),
}


@pytest.fixture(params=SERVICES, ids=[s.name for s in SERVICES])
def service(request):
    return request.param


@pytest.fixture()
def client(service, redis_url, database_url, tmp_path):
    settings = service_settings(service.settings_cls(), redis_url, database_url, tmp_path)
    with migrated_app(service.package, settings) as app:
        yield app.test_client()


def _post(client, auth_header, url: str, raw: str):
    headers = {**auth_header("tester", "alice"), "Content-Type": "application/json"}
    return client.post(url, data=raw, headers=headers)


def _saved(client, auth_header, url: str) -> int:
    listing = client.get(url, headers=auth_header("tester", "alice"))
    json.loads(listing.get_data(as_text=True), parse_constant=pytest.fail)  # strictly valid JSON
    return listing.json["total"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_400_and_nothing_is_saved(client, service, auth_header, constant):
    url, body = CREATE[service.name]
    raw = json.dumps({**body, "name": "__X__"}).replace('"__X__"', constant)
    resp = _post(client, auth_header, url, raw)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.json["error"]["code"] == "invalid_json" and constant.lstrip("-") in resp.json["error"]["message"]
    assert _saved(client, auth_header, url) == 0


PERF, SCHEDULER = SERVICES[1], SERVICES[2]


@pytest.mark.parametrize("service", [PERF], ids=["perf-test"])
def test_nan_in_a_scenario_request_body_is_400(client, service, auth_header):
    """The case of issue 11: `"json": NaN` was saved (201) and the scenario then read back as invalid JSON."""
    url, body = CREATE["perf-test"]
    raw = json.dumps(body).replace('{"ok": 1}', "NaN")
    resp = _post(client, auth_header, url, raw)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_json"
    assert _saved(client, auth_header, url) == 0


def _free_form(service_name: str, value) -> tuple[dict, str]:
    """The service's valid body with value where a free-form JSON value goes, and that field's path."""
    body = CREATE[service_name][1]
    if service_name == "web-test":  # a script has no free-form field: put it in a command's value
        return {**body, "commands": [{"command": "open", "target": "/", "value": value}]}, "commands.0.value"
    if service_name == "perf-test":
        return {**body, "requests": [{"path": "/", "json": value}]}, "requests.0.json"
    return {**body, "target": {**body["target"], "params": {"p": value}}}, "target.params.p"


@pytest.mark.parametrize(
    ("value", "message"),
    [("a\x00b", "NUL"), (2**63, "64 bits"), (-(2**63) - 1, "64 bits"), ({"k\x00": 1}, "NUL")],
    ids=["nul-in-string", "int-above-64-bits", "int-below-64-bits", "nul-in-key"],
)
def test_unstorable_values_are_422_naming_the_field(client, service, auth_header, value, message):
    body, field = _free_form(service.name, value)
    url = CREATE[service.name][0]
    resp = _post(client, auth_header, url, json.dumps(body))
    assert resp.status_code == 422, resp.get_data(as_text=True)
    error = resp.json["error"]
    assert error["details"][0]["field"] == field and message in error["details"][0]["message"]
    assert error["message"].startswith(field)
    assert _saved(client, auth_header, url) == 0


def test_nul_in_a_name_is_422(client, service, auth_header):
    url, body = CREATE[service.name]
    resp = _post(client, auth_header, url, json.dumps({**body, "name": "a\x00"}))
    assert resp.status_code == 422 and resp.json["error"]["details"][0]["field"] == "name"


def test_a_number_that_overflows_is_422(client, service, auth_header):
    body, field = _free_form(service.name, "__X__")
    url = CREATE[service.name][0]
    resp = _post(client, auth_header, url, json.dumps(body).replace('"__X__"', "1e400"))  # Python reads inf
    assert resp.status_code == 422 and resp.json["error"]["details"][0]["field"] == field


def _nested(levels: int):
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_nesting_is_bounded_with_a_422_naming_the_field(client, service, auth_header):
    body, field = _free_form(service.name, _nested(300))  # pydantic could not serialise this back: a 500
    url = CREATE[service.name][0]
    resp = _post(client, auth_header, url, json.dumps(body))
    assert resp.status_code == 422, resp.get_data(as_text=True)
    detail = resp.json["error"]["details"][0]
    assert detail["field"].startswith(field) and f"deeper than {MAX_DEPTH}" in detail["message"]
    assert _saved(client, auth_header, url) == 0


@pytest.mark.parametrize("service", [PERF, SCHEDULER], ids=["perf-test", "scheduler"])  # a script has none
def test_free_form_values_may_nest_up_to_the_limit(client, service, auth_header):
    url = CREATE[service.name][0]
    # The free-form field is at level 4: the body, requests (target), the request (params), the field.
    deepest, too_deep = _nested(MAX_DEPTH - 3), _nested(MAX_DEPTH - 2)
    resp = _post(client, auth_header, url, json.dumps(_free_form(service.name, too_deep)[0]))
    assert resp.status_code == 422, resp.get_data(as_text=True)
    resp = _post(client, auth_header, url, json.dumps(_free_form(service.name, deepest)[0]))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    read = client.get(f"{url}/{resp.json['id']}", headers=auth_header("tester", "alice"))
    assert read.status_code == 200 and _saved(client, auth_header, url) == 1
