"""The browsers a test's worker started, found by process: is any left?"""

from __future__ import annotations

import psutil


def browser_processes(worker) -> list[int]:
    """Live browser and driver processes of this test's worker: below it, or with a profile in its TMPDIR
    (a browser whose chromedriver died is no longer below the worker, but is still its own)."""
    temp_dir = worker.env["TMPDIR"]
    below = {p.pid for p in psutil.Process(worker.proc.pid).children(recursive=True)}
    found = []
    for proc in psutil.process_iter(["name", "status", "cmdline"]):
        if (
            proc.info["name"] not in ("chromium", "chromedriver", "chrome")
            or proc.info["status"] == psutil.STATUS_ZOMBIE
        ):
            continue
        if proc.pid in below or temp_dir in " ".join(proc.info["cmdline"] or []):
            found.append(proc.pid)
    return found
