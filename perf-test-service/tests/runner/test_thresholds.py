"""Threshold evaluation and the run state it leads to."""

from __future__ import annotations

import pytest

from perf_test_service.runner.thresholds import decide_state, evaluate_thresholds, thresholds_passed
from perf_test_service.scenario import Thresholds


def stats(requests=100, failures=2, p95_ms=120.0, rps=50.0) -> dict:
    total = {"requests": requests, "failures": failures, "p95_ms": p95_ms, "rps": rps}
    return {"total": total, "endpoints": [], "errors": []}


def test_all_thresholds_pass():
    results = evaluate_thresholds({"max_failure_ratio": 0.05, "p95_ms": 200, "min_rps": 10}, stats())

    assert results == [
        {"name": "max_failure_ratio", "limit": 0.05, "actual": 0.02, "passed": True},
        {"name": "p95_ms", "limit": 200, "actual": 120.0, "passed": True},
        {"name": "min_rps", "limit": 10, "actual": 50.0, "passed": True},
    ]
    assert thresholds_passed(results)
    assert decide_state("completed", results) == "passed"


def test_each_threshold_can_fail():
    results = evaluate_thresholds(Thresholds(max_failure_ratio=0.01, p95_ms=100, min_rps=60), stats())

    assert [(result["name"], result["passed"]) for result in results] == [
        ("max_failure_ratio", False),
        ("p95_ms", False),
        ("min_rps", False),
    ]
    assert decide_state("completed", results) == "failed"


def test_limits_are_inclusive():
    results = evaluate_thresholds({"max_failure_ratio": 0.02, "p95_ms": 120, "min_rps": 50}, stats())

    assert thresholds_passed(results)


def test_unset_thresholds_are_not_checked():
    assert evaluate_thresholds({}, stats()) == []
    assert evaluate_thresholds(None, stats()) == []
    assert evaluate_thresholds({"p95_ms": 500}, stats())[0]["name"] == "p95_ms"
    assert decide_state("completed", []) == "passed"


def test_no_requests_fails_ratio_and_latency_thresholds():
    results = evaluate_thresholds({"max_failure_ratio": 0.5, "p95_ms": 100}, stats(requests=0, failures=0, p95_ms=0))

    assert [result["passed"] for result in results] == [False, False]
    assert results[0]["actual"] == 1.0


@pytest.mark.parametrize(("outcome", "state"), [("error", "error"), ("stopped", "stopped")])
def test_errors_and_stops_win_over_thresholds(outcome, state):
    results = evaluate_thresholds({"min_rps": 1}, stats())

    assert decide_state(outcome, results) == state
