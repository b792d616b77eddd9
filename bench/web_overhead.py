"""Web overhead: one multi-step script as (a) plain Selenium with a fresh browser, (b) a TestFleet run.

(b) is timed from the POST through the gateway until the run is settled. Rounds alternate.
Usage: .venv/bin/python bench/web_overhead.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

sys.path.insert(0, str(Path(__file__).resolve().parent))
from running_platform import median, nginx, running_platform, wait_terminal

SITE = Path(__file__).resolve().parents[1] / "web-test-service" / "tests" / "site"
STEPS = [("open", "/login.html", ""), ("assertTitle", "Login", ""), ("type", "id=username", "tom"),
         ("type", "id=password", "secret"), ("click", "id=submit", ""), ("assertText", "id=result", "Hello, tom"),
         ("click", "id=slow-link", ""), ("assertTitle", "Slow", "")]  # fmt: skip
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1280,800"]  # fmt: skip


@contextmanager
def fresh_chromium():
    """A fresh headless Chromium with a profile of its own, as a user would start one; quit and removed after."""
    profile = tempfile.mkdtemp(prefix="bench-chrome-")
    options = webdriver.ChromeOptions()
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def plain_selenium(base: str) -> float:
    """The same steps hand-written with Selenium and a fresh browser, as a user would without TestFleet."""
    started = time.perf_counter()
    with fresh_chromium() as driver:
        driver.get(base + "/login.html")
        assert driver.title == "Login"
        driver.find_element(By.ID, "username").send_keys("tom")
        driver.find_element(By.ID, "password").send_keys("secret")
        driver.find_element(By.ID, "submit").click()
        assert driver.find_element(By.ID, "result").text == "Hello, tom"
        driver.find_element(By.ID, "slow-link").click()
        assert driver.title == "Slow"
    return time.perf_counter() - started


def platform_run(api, script_id: str) -> float:
    started = time.perf_counter()
    code, body = api.call("POST", f"/api/v1/web-test/scripts/{script_id}/run", {})
    assert code == 202, body
    status = wait_terminal(api, f"/api/v1/web-test/scripts/{script_id}/status")
    elapsed = time.perf_counter() - started
    assert status["state"] == "passed", status
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # A real web server: Python's http.server stalls Chromium's parallel connections for seconds.
    with nginx(f"root {SITE}; location / {{ }}") as base, running_platform() as api:
        code, script = api.call("POST", "/api/v1/web-test/scripts", {
            "name": "bench web overhead", "base_url": base,
            "commands": [{"command": c, "target": t, "value": v} for c, t, v in STEPS]})  # fmt: skip
        assert code == 201, script
        plain_selenium(base), platform_run(api, script["id"])  # warm both paths once
        plain, through = [], []
        for _ in range(args.rounds):
            plain.append(plain_selenium(base))
            through.append(platform_run(api, script["id"]))
        api.call("DELETE", f"/api/v1/web-test/scripts/{script['id']}")
    ratio = median(through) / median(plain)
    print(f"{'round':>5} | {'plain selenium s':>16} | {'testfleet s':>11}")
    for i, (a, b) in enumerate(zip(plain, through, strict=True), 1):
        print(f"{i:>5} | {a:>16.3f} | {b:>11.3f}")
    print(f"median plain {median(plain):.3f}s, testfleet {median(through):.3f}s, ratio {ratio:.2f} (target <= 1.25)")


if __name__ == "__main__":
    main()
