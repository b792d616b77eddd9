"""A Selenium IDE project of 24 short tests as (a) selenium-side-runner -w 2, (b) a TestFleet project run.

(a) is selenium-side-runner from npm, installed in a temporary folder for the bench run (removed afterwards),
driving headless Chromium through /usr/bin/chromedriver; it is timed by Jest's own "Time:" and as the whole
process (which outlives Jest's "Time:" by up to 30 s: side-runtime 4.0.13 leaves a 30 s "driver took too
long to build" timer running after each browser start, so Node exits 30 s after the last one).
(b) is timed from POST /projects/{id}/run through the gateway until the project run is settled.
(c), for reference, runs the same tests hand-written with bare Python Selenium, a fresh browser per test: what a
new browser per test costs on this machine without any runner.
All use 2 browsers at a time; rounds alternate.
Usage: .venv/bin/python bench/side_projects.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from running_platform import median, nginx, running_platform, wait_terminal
from selenium.webdriver.common.by import By
from web_overhead import FLAGS, SITE, fresh_chromium

# The only 4.x release that is not an alpha; its selenium-webdriver (4.46) finds the system chromedriver.
SIDE_RUNNER = "selenium-side-runner@4.0.13"
SUITES, TESTS_PER_SUITE = 2, 12
TOTAL = SUITES * TESTS_PER_SUITE
WORKERS = 2  # side-runner's -w; the web worker's browser slots under `make up` (WEB_WORKER_CONCURRENCY)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
JEST_TIME = re.compile(r"^Time:\s+([\d.]+) (ms|s)\b", re.MULTILINE)


def side_project(base: str) -> dict:
    """A .side as Selenium IDE writes it: 2 suites of 12 short tests (a login, or following a link)."""

    def command(name: str, target: str, value: str = "") -> dict:
        return {"id": str(uuid.uuid4()), "comment": "", "command": name, "target": target, "targets": [],
                "value": value}  # fmt: skip

    tests = []
    for i in range(TOTAL):
        steps = [command("open", "/login.html"), command("assertTitle", "Login")]
        if i % 2:
            steps += [command("click", "id=slow-link"), command("assertTitle", "Slow")]
        else:
            steps += [command("type", "id=username", f"user{i}"), command("type", "id=password", "secret"),
                      command("click", "id=submit"), command("assertText", "id=result", f"Hello, user{i}")]  # fmt: skip
        tests.append({"id": str(uuid.uuid4()), "name": f"{'link' if i % 2 else 'login'} {i:02d}", "commands": steps})
    # parallel: selenium-side-runner 4 runs the whole project as ONE Jest file, so -w 2 (Jest's maxConcurrency)
    # runs 2 tests at a time only for parallel suites' tests; sequential suites run one test after another there.
    # For TestFleet a parallel suite fans its tests out over the worker's 2 browser slots.
    suites = [{"id": str(uuid.uuid4()), "name": f"suite {s + 1}", "persistSession": False, "parallel": True,
               "timeout": 300, "tests": [t["id"] for t in tests[s * TESTS_PER_SUITE:(s + 1) * TESTS_PER_SUITE]]}
              for s in range(SUITES)]  # fmt: skip
    return {"id": str(uuid.uuid4()), "version": "2.0", "name": "bench side projects", "url": base, "tests": tests,
            "suites": suites, "urls": [base], "plugins": []}  # fmt: skip


@contextmanager
def side_runner(project: dict):
    """Install selenium-side-runner in a temporary folder with the project and its config; yield its command."""
    folder = Path(tempfile.mkdtemp(prefix="bench-side-runner-"))
    try:
        subprocess.run(["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--silent",
                        SIDE_RUNNER], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        (folder / "bench.side").write_text(json.dumps(project))
        # Capabilities in a config file (YAML, of which JSON is a part): -c's parser mangles lists of flags.
        config = {"capabilities": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium", "args": FLAGS}}}  # fmt: skip
        (folder / "side.json").write_text(json.dumps(config))
        binary = folder / "node_modules" / ".bin" / "selenium-side-runner"
        yield [str(binary), "--config-file", str(folder / "side.json"), "-w", str(WORKERS), str(folder / "bench.side")]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def side_runner_run(command: list[str]) -> tuple[float, float]:
    """One selenium-side-runner run that must pass every test: (Jest's own time, the whole process) in s."""
    folder = Path(command[-1]).parent
    env = {**os.environ, "PATH": f"/usr/bin:{os.environ['PATH']}", "TMPDIR": str(folder)}
    # Selenium Manager, which selenium-webdriver always asks for a driver, answers from PATH without the network:
    # /usr/bin/chromedriver (it matches /usr/bin/chromium). Its cache goes to the temporary folder too.
    env |= {"SE_OFFLINE": "true", "SE_CACHE_PATH": str(folder / "selenium")}
    started = time.perf_counter()
    with subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as proc:  # fmt: skip
        try:
            output = proc.communicate(timeout=600)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # Jest, chromedrivers and Chromiums with it
            raise
    elapsed = time.perf_counter() - started
    output = ANSI.sub("", output)
    jest = JEST_TIME.search(output)
    passed = re.search(rf"^Tests:\s+{TOTAL} passed, {TOTAL} total$", output, re.MULTILINE)
    if proc.returncode or not passed or not jest:
        raise SystemExit(f"selenium-side-runner failed (exit {proc.returncode}):\n{output[-4000:]}")
    return float(jest[1]) / (1000 if jest[2] == "ms" else 1), elapsed


def bare_test(test: dict, base: str) -> None:
    """One test of the project hand-written with Selenium, in a fresh headless Chromium, as without any runner."""
    with fresh_chromium() as driver:
        for step in test["commands"]:
            name, target, value = step["command"], step["target"], step["value"]
            if name == "open":
                driver.get(base + target)
            elif name == "assertTitle":
                assert driver.title == target, (driver.title, target)
            else:
                element = driver.find_element(By.ID, target.removeprefix("id="))
                if name == "type":
                    element.send_keys(value)
                elif name == "click":
                    element.click()
                elif name == "assertText":
                    assert element.text == value, (element.text, value)


def bare_selenium_run(project: dict, base: str) -> float:
    """The project's tests with bare Selenium, 2 at a time (each test a fresh browser): the floor of this machine."""
    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda test: bare_test(test, base), project["tests"]))
    return time.perf_counter() - started


def testfleet_run(api, project_id: str, base: str) -> float:
    started = time.perf_counter()
    code, run = api.call("POST", f"/api/v1/web-test/projects/{project_id}/run", {"base_url": base})
    assert code == 202, (code, run)
    status = wait_terminal(api, f"/api/v1/web-test/project-runs/{run['id']}", timeout_s=300, poll_s=0.05)
    elapsed = time.perf_counter() - started
    tests = [test for suite in status["suites"] for test in suite["tests"]]
    not_passed = [(test["name"], test["state"]) for test in tests if test["state"] != "passed"]
    assert status["state"] == "passed" and status["counts"].get("passed") == TOTAL, (status["state"], not_passed)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    # A real web server: Python's http.server stalls Chromium's parallel connections for seconds.
    with nginx(f"root {SITE}; location / {{ }}") as base:
        project = side_project(base)
        with side_runner(project) as command, running_platform() as api:
            code, imported = api.call("POST", "/api/v1/web-test/projects", project)
            assert code == 201 and len(imported["scripts"]) == TOTAL, (code, imported)
            project_id = imported["project"]["id"]
            for warning in imported["warnings"]:
                print(f"import warning: {warning}")
            try:
                side_runner_run(command), testfleet_run(api, project_id, base)  # warm both paths once
                jest, process, fleet, bare = [], [], [], []
                for _ in range(args.rounds):
                    jest_s, process_s = side_runner_run(command)
                    jest.append(jest_s)
                    process.append(process_s)
                    fleet.append(testfleet_run(api, project_id, base))
                    bare.append(bare_selenium_run(project, base))
            finally:
                api.call("DELETE", f"/api/v1/web-test/projects/{project_id}")
    print(f"{TOTAL} tests in {SUITES} parallel suites, 2 browsers on each side ({SIDE_RUNNER} -w {WORKERS})\n")
    print("| round | side-runner Jest (s) | side-runner process (s) | TestFleet (s) | bare Selenium (s) |")
    print("|---:|---:|---:|---:|---:|")
    for i, (a, b, c, d) in enumerate(zip(jest, process, fleet, bare, strict=True), 1):
        print(f"| {i} | {a:.3f} | {b:.3f} | {c:.3f} | {d:.3f} |")
    m_jest, m_process, m_fleet, m_bare = median(jest), median(process), median(fleet), median(bare)
    by_jest, by_process = m_fleet / m_jest, m_fleet / m_process
    print(f"\nmedian side-runner Jest {m_jest:.3f}s, process {m_process:.3f}s, TestFleet {m_fleet:.3f}s, "
          f"bare Selenium {m_bare:.3f}s; ratio TestFleet/Jest {by_jest:.2f} (target <= 0.7), "
          f"TestFleet/process {by_process:.2f}, bare Selenium/Jest {m_bare / m_jest:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
