"""Scenario and run-parameter validation: good input normalised, bad input refused naming the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from perf_test_service.scenario import RunParams, Scenario, parse_run_params, parse_run_time


def scenario_data(**overrides) -> dict:
    data = {"name": "checkout", "host": "http://127.0.0.1:8000/", "requests": [{"path": "/"}]}
    return {**data, **overrides}


def error_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(part) for part in error["loc"]) for error in exc.errors()}


def test_minimal_scenario_gets_defaults():
    scenario = Scenario.model_validate(scenario_data())

    assert scenario.host == "http://127.0.0.1:8000"
    request = scenario.requests[0]
    assert (request.name, request.method, request.weight, request.expect_status) == ("GET /", "GET", 1, None)
    assert (scenario.wait_time_ms.min, scenario.wait_time_ms.max) == (0, 0)
    assert scenario.thresholds.p95_ms is None


def test_full_scenario_round_trips_with_json_alias():
    data = scenario_data(
        requests=[
            {
                "name": "create",
                "method": "post",
                "path": "/items",
                "headers": {"X-Token": "t"},
                "json": {"a": [1, 2]},
                "weight": 5,
                "expect_status": 201,
            },
            {"name": "raw", "method": "PUT", "path": "/raw", "body": "x=1", "expect_status": [200, 204]},
        ],
        wait_time_ms={"min": 100, "max": 500},
        thresholds={"max_failure_ratio": 0.01, "p95_ms": 300, "min_rps": 50},
    )

    scenario = Scenario.model_validate(data)
    dumped = scenario.model_dump(by_alias=True)

    assert dumped["requests"][0]["json"] == {"a": [1, 2]}
    assert dumped["requests"][0]["method"] == "POST"
    assert dumped["requests"][0]["expect_status"] == [201]
    assert dumped["requests"][1]["expect_status"] == [200, 204]
    assert Scenario.model_validate(dumped) == scenario


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"host": "ftp://example.com"}, "host", "http"),
        ({"host": "127.0.0.1:8000"}, "host", "http"),
        ({"host": "http://user:pw@127.0.0.1"}, "host", "credentials"),
        ({"host": "http://127.0.0.1:99999"}, "host", "port"),
        ({"requests": []}, "requests", "at least 1"),
        ({"requests": [{"path": "items"}]}, "requests.0.path", "start with"),
        ({"requests": [{"path": "//evil.example/x"}]}, "requests.0.path", "single '/'"),
        ({"requests": [{"path": "/", "method": "BREW"}]}, "requests.0.method", "one of"),
        ({"requests": [{"path": "/", "weight": 0}]}, "requests.0.weight", "greater than or equal"),
        ({"requests": [{"path": "/", "expect_status": 700}]}, "requests.0.expect_status", "100-599"),
        ({"requests": [{"path": "/", "json": {}, "body": "x"}]}, "requests.0", "either json or body"),
        ({"requests": [{"path": "/", "headers": {"Bad Header": "x"}}]}, "requests.0.headers", "header name"),
        ({"requests": [{"path": "/", "headers": {"X": "a\r\nb"}}]}, "requests.0.headers", "line breaks"),
        ({"requests": [{"path": "/", "expected_status": 200}]}, "requests.0.expected_status", "Extra inputs"),
        ({"wait_time_ms": {"min": 500, "max": 100}}, "wait_time_ms", "max (100) must be >="),
        ({"thresholds": {"max_failure_ratio": 2}}, "thresholds.max_failure_ratio", "less than or equal"),
        ({"thresholds": {"p95_ms": 0}}, "thresholds.p95_ms", "greater than"),
        ({"name": ""}, "name", "at least 1"),
    ],
)
def test_invalid_scenarios_name_the_field(overrides, field, words):
    with pytest.raises(ValidationError) as caught:
        Scenario.model_validate(scenario_data(**overrides))

    assert field in error_fields(caught.value)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("1h2m3s", 3723), ("2h", 7200), ("90", 90), (90, 90), (" 45S ", 45)],
)
def test_run_time_formats(value, seconds):
    assert parse_run_time(value) == seconds


@pytest.mark.parametrize("value", ["", "0", 0, -5, "5x", "m5", "30m1h", "1.5m", 1.5, True, None, "1h 30m"])
def test_bad_run_times_are_refused(value):
    with pytest.raises(ValueError, match="run_time"):
        parse_run_time(value)


def test_run_params_defaults_and_normalisation():
    params = parse_run_params({"user_count": 10, "run_time": "1m"})

    assert params == RunParams(user_count=10, spawn_rate=10, run_time=60, workers=0)
    assert params.model_dump() == {"user_count": 10, "spawn_rate": 10.0, "run_time": 60, "workers": 0}


def test_run_params_caps_name_each_field():
    with pytest.raises(ValidationError) as caught:
        parse_run_params(
            {"user_count": 501, "run_time": "2h", "workers": 9}, max_users=500, max_run_seconds=3600, max_workers=4
        )

    assert error_fields(caught.value) == {"user_count", "run_time", "workers"}
    text = str(caught.value)
    assert "PERF_MAX_USERS" in text and "PERF_MAX_RUN_TIME" in text and "maximum of 4" in text


def test_run_params_within_caps_pass():
    params = parse_run_params({"user_count": 500, "run_time": 3600, "workers": 2}, max_users=500, max_run_seconds=3600)

    assert (params.user_count, params.run_time, params.workers) == (500, 3600, 2)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"user_count": 0, "run_time": 10}, "user_count"),
        ({"user_count": 1, "run_time": "soon"}, "run_time"),
        ({"user_count": 1, "run_time": 10, "workers": -1}, "workers"),
        ({"user_count": 1, "run_time": 10, "spawn_rate": -1}, "spawn_rate"),
        ({"run_time": 10}, "user_count"),
    ],
)
def test_bad_run_params_name_the_field(data, field):
    with pytest.raises(ValidationError) as caught:
        parse_run_params(data)

    assert field in error_fields(caught.value)
