"""`testfleet perf` and `testfleet schedules` against the real platform: a missed threshold is exit 1, with a
testcase per threshold, Locust's report and CSV; a schedule made, switched and fired from the command line."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from cli_harness import side

pytestmark = pytest.mark.timeout(300)


def scenario_file(tmp_path: Path, site: str, thresholds: dict) -> Path:
    path = tmp_path / "home.yaml"
    scenario = {"name": "home", "host": site, "requests": [{"name": "index", "path": "/index.html"}],
                "wait_time_ms": {"min": 50, "max": 100}, "thresholds": thresholds}  # fmt: skip
    path.write_text(yaml.safe_dump(scenario))
    return path


def test_a_missed_threshold_exits_1_with_junit_report_and_csv(cli, site, tmp_path):
    created = cli.run("perf", "create", str(scenario_file(tmp_path, site, {"p95_ms": 0.001, "max_failure_ratio": 0.5})))
    assert created.returncode == 0, created.stderr
    scenario = created.stdout.strip()
    done = cli.run("perf", "run", scenario, "--users", "2", "--run-time", "3s", "--junit", str(tmp_path / "load.xml"),
                   "--report", str(tmp_path / "report.html"), "--artifacts-dir", str(tmp_path / "art"),
                   "-o", "json")  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["runs"][0]["state"] == "failed" and result["exit_code"] == 1
    cases = {case.get("name"): case for case in ET.parse(tmp_path / "load.xml").getroot().iter("testcase")}
    assert set(cases) == {"p95_ms", "max_failure_ratio"}
    assert cases["p95_ms"].find("failure") is not None and cases["max_failure_ratio"].find("failure") is None
    report = (tmp_path / "report.html").read_text()  # Locust's own report, its data inline
    assert "Locust Test Report" in report and '"requests_statistics"' in report and '"name": "index"' in report
    [csv] = (tmp_path / "art").rglob("stats.csv")
    header, *rows = csv.read_text().splitlines()
    assert header.startswith("Type,Name,Request Count") and any(row.startswith("GET,index,") for row in rows), rows


def test_a_load_run_within_its_thresholds_exits_0(cli, site, tmp_path):
    scenario = cli.run("perf", "create", str(scenario_file(tmp_path, site, {"max_failure_ratio": 0.5}))).stdout.strip()
    done = cli.run("perf", "run", scenario, "--users", "1", "--run-time", "2s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "threshold max_failure_ratio" in done.stdout and "held" in done.stdout


def test_a_schedule_made_switched_and_fired_from_the_command_line(cli, site, tmp_path):
    project = side(tmp_path / "s.side", "cli-sched", [("open", "/index.html", "")])
    imported = json.loads(cli.run("web", "import", str(project), "-o", "json").stdout)
    script = imported["scripts"][0]["id"]
    params = json.dumps({"base_url": site})
    made = cli.run("schedules", "create", "--name", "nightly", "--cron", "0 3 * * *", "--kind", "web",
                   "--target", script, "--params", params, "-o", "json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    schedule = json.loads(made.stdout)["id"]
    assert schedule in cli.run("schedules", "list").stdout
    assert json.loads(cli.run("schedules", "disable", schedule, "-o", "json").stdout)["enabled"] is False
    assert json.loads(cli.run("schedules", "enable", schedule, "-o", "json").stdout)["enabled"] is True
    fired = cli.run("schedules", "trigger", schedule)
    assert fired.returncode == 0 and fired.stdout.startswith("started "), fired.stdout + fired.stderr
    run_id = fired.stdout.split()[1]
    watched = cli.run("runs", "watch", run_id, "--timeout", "120", "-o", "json")
    assert watched.returncode == 0, watched.stderr
    assert json.loads(watched.stdout)["runs"][0]["kind"] == "web"
    listed = json.loads(cli.run("runs", "list", "--kind", "web", "-o", "json").stdout)["items"]
    assert run_id in [item["run_id"] for item in listed]
    got = json.loads(cli.run("runs", "get", run_id, "-o", "json").stdout)
    assert got["kind"] == "web" and got["run"]["state"] == "passed"
