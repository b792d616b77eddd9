"""What the web policy guard's popup check costs per step, in a real Chromium: `.venv/bin/python
bench/web_popup_check.py` from the project root (prints milliseconds)."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

# The policy suites' test sites (web-test-service/tests/hostile_sites.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web-test-service" / "tests"))

from hostile_sites import hostile_sites, page, trusting

from shared.host_policy import HostPolicy
from shared.testing import TEST_WEB_ALLOWED_HOSTS
from web_test_service.runner import driver
from web_test_service.runner.policy import PolicyGuard

ROUNDS = 15


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f} ms (min {min(samples) * 1000:.2f}, max {max(samples) * 1000:.2f})"


def main() -> None:
    driver.chrome_options = trusting(driver.chrome_options)
    with hostile_sites(Path(tempfile.mkdtemp())) as sites:
        browser = driver.make_driver(policy=HostPolicy.from_setting(TEST_WEB_ALLOWED_HOSTS, "WEB_ALLOWED_HOSTS", []))
        web = browser.driver
        try:
            guard = PolicyGuard(web, browser)
            inspector = guard._inspector
            assert inspector is not None, "no DevTools endpoint"
            timings: list[float] = []
            asked = inspector.failed_loads

            def timed(handles):
                begun = time.perf_counter()
                try:
                    return asked(handles)
                finally:
                    timings.append(time.perf_counter() - begun)

            inspector.failed_loads = timed  # type: ignore[method-assign]
            guard.start()
            quiet, check = [], {"plain": [], "to-file": []}
            for _ in range(ROUNDS):
                web.get(f"{sites.base}/plain")
                begun = time.perf_counter()
                guard.violation()  # a step that opened no window
                quiet.append(time.perf_counter() - begun)
            quiet_calls = len(timings)
            for name, samples in check.items():
                for _ in range(ROUNDS):
                    web.get(f"{sites.base}/{page('/open', f'{sites.https_base}/{name}')}")
                    found = guard.violation()  # as after the step that opened the window
                    assert (found is not None) == (name == "to-file"), found
                    samples.append(timings[-1])
                    opener = web.current_window_handle
                    for handle in set(web.window_handles) - {opener}:
                        web.switch_to.window(handle)
                        web.close()
                    web.switch_to.window(opener)
                    guard.new_windows()
            print(f"step opening no window: violation() {median_ms(quiet)}; DevTools asked {quiet_calls} times")
            for name, samples in check.items():
                print(f"step opening a window ({name}): the window's check {median_ms(samples)}")
        finally:
            browser.quit()


if __name__ == "__main__":
    main()
