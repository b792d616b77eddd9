"""Judge a load run: thresholds against final stats, and the run state that follows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perf_test_service.scenario import Thresholds
from shared.runs.states import RunState


def evaluate_thresholds(thresholds: Thresholds | Mapping[str, Any] | None, stats: Mapping[str, Any]) -> list[dict]:
    """Check each set threshold against stats["total"]; return [{name, limit, actual, passed}] in a fixed order."""
    limits = thresholds if isinstance(thresholds, Thresholds) else Thresholds.model_validate(dict(thresholds or {}))
    total = stats.get("total") or {}
    requests = int(total.get("requests") or 0)
    failures = int(total.get("failures") or 0)
    results = []
    if limits.max_failure_ratio is not None:
        # No requests at all cannot show a healthy failure ratio: count it as every request failing.
        ratio = failures / requests if requests else 1.0
        limit = limits.max_failure_ratio
        results.append(_result("max_failure_ratio", limit, round(ratio, 4), ratio <= limit))
    if limits.p95_ms is not None:
        p95 = float(total.get("p95_ms") or 0)
        results.append(_result("p95_ms", limits.p95_ms, p95, requests > 0 and p95 <= limits.p95_ms))
    if limits.min_rps is not None:
        rps = float(total.get("rps") or 0)
        results.append(_result("min_rps", limits.min_rps, rps, rps >= limits.min_rps))
    return results


def thresholds_passed(results: list[dict]) -> bool:
    """Return True when every evaluated threshold held (vacuously True when none were set)."""
    return all(result["passed"] for result in results)


def decide_state(outcome: str, results: list[dict]) -> RunState:
    """Map a load outcome ("completed", "stopped" or "error") and threshold results to the run state."""
    if outcome == "error":
        return RunState.error
    if outcome == "stopped":
        return RunState.stopped
    return RunState.passed if thresholds_passed(results) else RunState.failed


def _result(name: str, limit: float, actual: float, passed: bool) -> dict:
    return {"name": name, "limit": limit, "actual": actual, "passed": bool(passed)}
