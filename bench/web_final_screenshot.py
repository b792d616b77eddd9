"""What the final screenshot costs a failing web run, in a real Chromium: `.venv/bin/python
bench/web_final_screenshot.py` from the project root (prints milliseconds and bytes)."""

from __future__ import annotations

import functools
import statistics
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from shared.host_policy import HostPolicy
from shared.testing import TEST_WEB_ALLOWED_HOSTS
from web_test_service.runner import FAILED, PASSED, driver, engine, run_script

ROUNDS = 20
SITE = Path(__file__).resolve().parents[1] / "web-test-service" / "tests" / "site"
FAILING = [("open", "/login.html", ""), ("type", "id=username", "tom"), ("assertText", "id=title", "Goodbye")]
PASSING = [("open", "/login.html", ""), ("type", "id=username", "tom"), ("assertText", "id=title", "Welcome")]


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class Reused:
    """The bench's browser for one run: not quit on exit, its proxy's refusals reported."""

    def __init__(self, browser: driver.Browser) -> None:
        self.browser = browser
        self.take_refusals, self.take_unreachable = browser.take_refusals, browser.take_unreachable

    def __enter__(self):
        self.browser.driver.get("about:blank")
        return self.browser.driver

    def __exit__(self, *exc_info: object) -> None:
        pass


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples):.1f} ms (min {min(samples):.1f}, max {max(samples):.1f})"


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(SITE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    browser = driver.make_driver(policy=HostPolicy.from_setting(TEST_WEB_ALLOWED_HOSTS, "WEB_ALLOWED_HOSTS", []))
    taken = engine.final_screenshot
    shots: list[float] = []
    sizes: list[int] = []

    def timed(ctx, state):
        begun = time.perf_counter()
        try:
            return taken(ctx, state)
        finally:
            shots.append((time.perf_counter() - begun) * 1000)

    def skipped(*_args) -> None:
        return None

    def run(commands, final: bool) -> float:
        engine.final_screenshot = timed if final else skipped  # type: ignore[assignment]
        script = {"commands": [{"command": c, "target": t, "value": v} for c, t, v in commands]}
        result = run_script(script, lambda: Reused(browser), base_url=base, implicit_wait_ms=100)
        assert result.state == (FAILED if commands is FAILING else PASSED), result.to_dict()
        if result.final_screenshot is not None:
            sizes.append(len(result.final_screenshot))
        return float(result.duration_ms)

    try:
        run(FAILING, True)  # warm up: the first screenshot of a session is slower
        shots.clear()
        sizes.clear()
        with_final, without, passing = [], [], []
        for _ in range(ROUNDS):  # interleaved, so that a busy moment hits both alike
            with_final.append(run(FAILING, True))
            without.append(run(FAILING, False))
            passing.append(run(PASSING, True))
        assert len(sizes) == ROUNDS, "only the failing runs with it get a final screenshot"
    finally:
        engine.final_screenshot = taken
        browser.quit()
        server.shutdown()
    # Each round times two calls: the failing run's, then the passing run's (which returns at once).
    print(f"final_screenshot() on a failing run (guard's look + PNG): {median_ms(shots[0::2])}")
    print(f"final_screenshot() on a passing run (returns at once): {median_ms(shots[1::2])}")
    print(f"failing run, whole: {median_ms(with_final)} with it, {median_ms(without)} without")
    print(f"passing run, whole: {median_ms(passing)}")
    print(f"PNG size: median {statistics.median(sizes) / 1024:.1f} KiB (min {min(sizes)}, max {max(sizes)} bytes)")


if __name__ == "__main__":
    main()
