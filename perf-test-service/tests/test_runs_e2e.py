"""Load runs end to end: the API, a real Celery worker, real Locust processes, a real nginx target."""

from __future__ import annotations

import csv
import io
import time

import psutil
import pytest

from shared.testing import free_port, wait_until

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]
API = "/api/v1/perf-test"


def scenario(target, **extra):
    return {"name": "e2e", "host": target, "wait_time_ms": {"min": 0, "max": 5},
            "requests": [{"name": "home", "path": "/", "expect_status": 200, "weight": 3},
                         {"name": "items", "method": "POST", "path": "/items", "json": {"x": 1}, "expect_status": 201}],
            **extra}  # fmt: skip


def create(client, headers, body):
    resp = client.post(f"{API}/scenarios", json=body, headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def run_to_end(client, headers, sid, params, timeout=120):
    assert client.post(f"{API}/scenarios/{sid}/run", json=params, headers=headers).status_code == 202

    def finished():
        status = client.get(f"{API}/scenarios/{sid}/status", headers=headers).json
        return status if status["state"] not in ("queued", "running") else None

    return wait_until(finished, timeout, 0.25, what="the load run to finish")


def locust_processes(var_dir) -> list[int]:
    """Live Locust processes of this test's worker: their config lies in its VAR_DIR (var_dir/perf-runs/)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "locust_entry" in cmdline and str(var_dir) in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc.pid)
    return found


def test_passed_run_has_consistent_stats_report_and_csv(client, auth_header, perf_worker, nginx_target, tmp_path):
    alice = auth_header("tester", "alice")
    sid = create(client, alice, scenario(nginx_target, thresholds={"max_failure_ratio": 0.0, "p95_ms": 1000}))
    status = run_to_end(client, alice, sid, {"user_count": 4, "spawn_rate": 4, "run_time": "3s"})
    assert status["state"] == "passed", status
    total = status["stats"]["total"]
    assert total["requests"] > 50 and total["failures"] == 0
    assert sum(e["requests"] for e in status["stats"]["endpoints"]) == total["requests"]
    assert {e["name"] for e in status["stats"]["endpoints"]} == {"home", "items"}
    assert total["p50_ms"] <= total["p95_ms"] <= total["p99_ms"] <= total["max_ms"]
    assert status["history"] and status["thresholds"] and all(t["passed"] for t in status["thresholds"])
    report = client.get(status["report_url"], headers=alice)
    assert report.status_code == 200 and report.mimetype == "text/html"
    assert b"home" in report.data and b"history" in report.data
    rows = list(csv.DictReader(io.StringIO(client.get(status["stats_csv_url"], headers=alice).data.decode())))
    aggregated = next(r for r in rows if r["Name"] == "Aggregated")
    assert int(aggregated["Request Count"]) == total["requests"]
    assert not locust_processes(tmp_path)


def test_threshold_breach_fails_the_run(client, auth_header, perf_worker, nginx_target):
    alice = auth_header("tester", "alice")
    body = scenario(nginx_target, thresholds={"max_failure_ratio": 0.0})
    body["requests"].append({"name": "missing", "path": "/missing", "expect_status": 200})
    status = run_to_end(client, alice, create(client, alice, body), {"user_count": 2, "run_time": 2})
    assert status["state"] == "failed"
    ratio = next(t for t in status["thresholds"] if t["name"] == "max_failure_ratio")
    assert ratio["passed"] is False and ratio["actual"] > 0
    assert status["stats"]["errors"] and status["error"]["code"] == "threshold_failed"


def test_stop_mid_run_ends_the_load_and_keeps_results(client, auth_header, perf_worker, nginx_target, tmp_path):
    alice = auth_header("tester", "alice")
    sid = create(client, alice, scenario(nginx_target))
    assert (
        client.post(f"{API}/scenarios/{sid}/run", json={"user_count": 3, "run_time": "5m"}, headers=alice).status_code
        == 202
    )

    def live_requests():
        status = client.get(f"{API}/scenarios/{sid}/status", headers=alice).json
        stats = status.get("stats") or {}
        return status["state"] == "running" and (stats.get("total") or {}).get("requests", 0) > 0

    wait_until(live_requests, 60, 0.2, what="live stats with requests")
    asked = time.monotonic()
    assert client.post(f"{API}/scenarios/{sid}/stop", headers=alice).status_code == 202
    wait_until(lambda: client.get(f"{API}/scenarios/{sid}/status", headers=alice).json["state"] == "stopped", 5, 0.1,
               what="stopped within 5 s")  # fmt: skip
    print(f"load stopped {time.monotonic() - asked:.2f}s after the request")
    status = client.get(f"{API}/scenarios/{sid}/status", headers=alice).json
    assert status["stats"]["total"]["requests"] > 0
    wait_until(lambda: not locust_processes(tmp_path), 10, 0.2, what="no Locust process left")
    wait_until(lambda: client.get(f"{API}/scenarios/{sid}/status", headers=alice).json.get("report_url"), 10, 0.2,
               what="the partial report")  # fmt: skip


def test_two_workers_are_aggregated(client, auth_header, perf_worker, nginx_target):
    alice = auth_header("tester", "alice")
    status = run_to_end(client, alice, create(client, alice, scenario(nginx_target)),
                        {"user_count": 4, "spawn_rate": 4, "run_time": 3, "workers": 2})  # fmt: skip
    assert status["state"] == "passed", status
    assert status["worker_count"] == 2 and status["stats"]["total"]["requests"] > 0


def test_unreachable_host_is_an_error(client, auth_header, perf_worker):
    alice = auth_header("tester", "alice")
    sid = create(client, alice, scenario(f"http://127.0.0.1:{free_port()}"))
    status = run_to_end(client, alice, sid, {"user_count": 1, "run_time": "20s"})
    assert status["state"] == "error" and "unreachable" in status["error"]["message"]
