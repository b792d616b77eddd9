"""Perf fidelity: the same load (a) with raw `locust --headless`, (b) through TestFleet, alternating.

Both hit the same fast local nginx with an equivalent FastHttpUser and no wait time; both are
read from Locust's own stats CSV (Aggregated row). Also compares TestFleet with workers 1 and 2.
Usage: .venv/bin/python bench/perf_fidelity.py [--rounds 3] [--users 20] [--seconds 10]
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from running_platform import median, nginx, running_platform, wait_terminal

ROOT = Path(__file__).resolve().parents[1]
LOCUST = ROOT / ".venv" / "bin" / "locust"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RAW_LOCUSTFILE = """
from locust import FastHttpUser, task


class Raw(FastHttpUser):
    @task
    def home(self):
        self.client.get("/", name="home")
"""


def aggregated(csv_text: str) -> tuple[float, float]:
    """(requests/s, p50 ms) of Locust's stats CSV."""
    row = next(r for r in csv.DictReader(io.StringIO(csv_text)) if r["Name"] == "Aggregated")
    return float(row["Requests/s"]), float(row["50%"])


def raw_locust(target: str, users: int, seconds: int) -> tuple[float, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-locust-"))
    (work / "locustfile.py").write_text(RAW_LOCUSTFILE)
    subprocess.run([str(LOCUST), "-f", str(work / "locustfile.py"), "--headless", "-u", str(users), "-r", str(users),
                    "-t", f"{seconds}s", "-H", target, "--csv", str(work / "raw"), "--only-summary"],
                   check=True, capture_output=True, timeout=seconds + 60)  # fmt: skip
    result = aggregated((work / "raw_stats.csv").read_text())
    shutil.rmtree(work, ignore_errors=True)
    return result


def platform_load(api, scenario_id: str, users: int, seconds: int, workers: int = 1) -> tuple[float, float]:
    params = {"user_count": users, "spawn_rate": users, "run_time": seconds, "workers": workers}
    code, body = api.call("POST", f"/api/v1/perf-test/scenarios/{scenario_id}/run", params)
    assert code == 202, body
    status = wait_terminal(api, f"/api/v1/perf-test/scenarios/{scenario_id}/status", poll_s=0.5)
    assert status["state"] == "passed", status
    code, text = api.call("GET", status["stats_csv_url"], raw=True)
    return aggregated(text.decode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    with nginx('location / { return 200 "ok"; }') as target, running_platform() as api:
        code, scenario = api.call("POST", "/api/v1/perf-test/scenarios", {
            "name": "bench fidelity", "host": target, "requests": [{"name": "home", "path": "/"}]})  # fmt: skip
        assert code == 201, scenario
        raw, through, two = [], [], []
        for _ in range(args.rounds):
            raw.append(raw_locust(target, args.users, args.seconds))
            through.append(platform_load(api, scenario["id"], args.users, args.seconds))
            two.append(platform_load(api, scenario["id"], args.users, args.seconds, workers=2))
        api.call("DELETE", f"/api/v1/perf-test/scenarios/{scenario['id']}")
    header = ("round", "raw rps", "raw p50", "testfleet rps", "tf p50", "2 workers rps")
    print("{:>5} | {:>9} | {:>7} | {:>13} | {:>6} | {:>13}".format(*header))
    for i, ((r, rp), (t, tp), (w, _)) in enumerate(zip(raw, through, two, strict=True), 1):
        print(f"{i:>5} | {r:>9.0f} | {rp:>7.0f} | {t:>13.0f} | {tp:>6.0f} | {w:>13.0f}")
    raw_rps, tf_rps, two_rps = (median([x[0] for x in xs]) for xs in (raw, through, two))
    print(f"median rps raw {raw_rps:.0f}, testfleet {tf_rps:.0f}, ratio {tf_rps / raw_rps:.2f} (target >= 0.95); "
          f"p50 raw {median([x[1] for x in raw]):.0f} ms, testfleet {median([x[1] for x in through]):.0f} ms; "
          f"workers 2 vs 1: {two_rps:.0f} vs {tf_rps:.0f} rps ({two_rps / tf_rps:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
