"""Readiness checks run in parallel and each has a deadline."""

import threading
import time

from shared.health import run_checks


def test_failures_and_timeouts_are_named():
    release = threading.Event()

    def ok():
        pass

    def broken():
        raise ConnectionError("refused")

    def hangs():
        release.wait(10)

    started = time.monotonic()
    results = run_checks({"ok": ok, "broken": broken, "hangs": hangs}, timeout_s=0.5)
    release.set()
    assert time.monotonic() - started < 2
    assert results["ok"]["ok"] is True
    assert results["broken"] == {"ok": False, "error": "ConnectionError: refused", "ms": results["broken"]["ms"]}
    assert results["hangs"]["ok"] is False and "timed out" in results["hangs"]["error"]
