"""Save-time check of a raw locustfile: `python -P check_entry.py LOCUSTFILE RESULT.json`, run by ``locustfile``.

It imports the locustfile as Locust would and writes its verdict to RESULT.json: {"ok": true, "user_classes"}
or {"ok": false, "error": the last line of the exception}. Only that file is read by the API, never this
process's output, so what the locustfile prints goes nowhere. It runs confined (runner/confine.py), with a
scrubbed environment (shared/src/shared/child_env.py) in a temporary directory, by path with -P like
``locust_entry``, and imports nothing from the perf_test_service package. Where Linux allows it, it is the init
(pid 1) of its own PID namespace, which ignores signals it has no handler for: it handles SIGXCPU (the CPU limit)
by exiting with 128 + SIGXCPU, which the API reports as such.
"""

from __future__ import annotations

import locust  # noqa: F401  isort: skip

import json
import os
import signal
import sys
import traceback
from pathlib import Path

from locust.util.load_locustfile import load_locustfile

# The 422 names the problem, not the whole traceback: bounded, and only the exception's own line.
MAX_ERROR_CHARS = 500


def verdict(locustfile: str) -> dict:
    """Import the locustfile; say whether it defines a runnable User class, or why not."""
    try:
        user_classes, shape_classes = load_locustfile(locustfile)
    except BaseException:  # SystemExit, KeyboardInterrupt or anything else raised by user code
        return {"ok": False, "error": user_code_error(locustfile)}
    if not user_classes:
        error = "the locustfile defines no User class (a LoadTestShape alone cannot generate load)"
        return {"ok": False, "error": error}
    return {"ok": True, "user_classes": sorted(user_classes), "shape_classes": len(shape_classes)}


def user_code_error(locustfile: str) -> str:
    """`line N: Type: message` of the exception being handled, its line the last one inside the locustfile."""
    exc_type, exc, tb = sys.exc_info()
    lines = [frame.lineno for frame in traceback.extract_tb(tb) if frame.filename == locustfile]
    if isinstance(exc, SyntaxError) and exc.filename == locustfile:
        lines.append(exc.lineno or 0)
    summary = traceback.format_exception_only(exc_type, exc)[-1].strip()
    where = f"locustfile.py line {lines[-1]}: " if lines else ""
    return (where + summary.replace(locustfile, "locustfile.py"))[:MAX_ERROR_CHARS]


def _cpu_exceeded(signum, _frame) -> None:
    os._exit(128 + signum)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGXCPU, _cpu_exceeded)
    if len(argv) != 2:
        print("usage: check_entry.py LOCUSTFILE RESULT.json", file=sys.stderr)
        return 64
    locustfile, result_path = argv
    outcome = verdict(locustfile)
    Path(result_path).write_text(json.dumps(outcome), encoding="utf-8")
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
