"""Process bookkeeping of driver.py (psutil) on stand-in processes: no browser needed."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from shared.testing import wait_until
from web_test_service.runner.driver import (
    BROWSER_MARKER,
    PROFILE_PREFIX,
    browser_process_ids,
    is_running,
    kill_processes,
    sweep_orphaned_browsers,
)

pytestmark = pytest.mark.timeout(60)

SLEEP = "import time; time.sleep(60)"
# A stand-in chromedriver: starts a child (a stand-in Chromium), prints its pid and sleeps.
PARENT = (
    "import subprocess, sys, time\n"
    f"child = subprocess.Popen([sys.executable, '-c', {SLEEP!r}])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.fixture()
def spawn():
    """Start processes (killed and reaped at the end of the test)."""
    started: list[subprocess.Popen] = []

    def start(*argv: str, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, *argv], **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(10)
    return process.pid


def test_a_zombie_counts_as_gone(spawn):
    process = spawn("-c", "pass")
    wait_until(lambda: psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE, 10, 0.02, what="a zombie")
    assert not is_running(process.pid)
    assert is_running(os.getpid())
    assert not is_running(dead_pid())


def test_the_processes_of_a_browser_are_chromedrivers_descendants(spawn):
    parent = spawn("-c", PARENT, stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert browser_process_ids(parent.pid, None) == {parent.pid, child}

    kill_processes({parent.pid, child})
    assert browser_process_ids(parent.pid, None) == set()


def test_the_processes_of_a_browser_are_those_using_its_profile(spawn, tmp_path):
    profile = tmp_path / f"{PROFILE_PREFIX}123-abc"
    user = spawn("-c", SLEEP, f"--user-data-dir={profile}")
    spawn("-c", SLEEP, f"--user-data-dir={tmp_path / 'another-profile'}")
    wait_until(lambda: browser_process_ids(None, str(profile)), 10, 0.02, what="the profile's user")
    assert browser_process_ids(None, str(profile)) == {user.pid}


def test_sweep_kills_only_browsers_whose_owner_died(spawn, tmp_path):
    orphaned = tmp_path / f"{PROFILE_PREFIX}{dead_pid()}-abc"
    owned = tmp_path / f"{PROFILE_PREFIX}{os.getpid()}-def"
    orphaned.mkdir()
    owned.mkdir()
    orphan = spawn("-c", SLEEP, f"--user-data-dir={orphaned}", start_new_session=True)
    kept = spawn("-c", SLEEP, f"--user-data-dir={owned}")
    wait_until(lambda: browser_process_ids(None, str(orphaned)), 10, 0.02, what="the orphan")

    started = time.monotonic()
    assert sweep_orphaned_browsers(str(tmp_path)) >= 1
    assert time.monotonic() - started < 5
    assert orphan.wait(5) == -9
    assert not orphaned.exists()
    assert kept.poll() is None and owned.exists()


def orphaned_chromedriver(tmp_path, env: dict[str, str]) -> int:
    """A process named chromedriver whose parent is init (its starter exited at once); its pid."""
    driver = tmp_path / "bin" / "chromedriver"
    driver.parent.mkdir(exist_ok=True)
    if not driver.exists():
        driver.symlink_to(sys.executable)  # the process's name is the name it was started by
    started = subprocess.run(
        ["/bin/sh", "-c", f"{driver} -c {SLEEP!r} >/dev/null 2>&1 & echo $!"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(started.stdout)
    wait_until(lambda: psutil.Process(pid).ppid() == 1 and psutil.Process(pid).name() == "chromedriver", 10, 0.02,
               what="an orphaned chromedriver")  # fmt: skip
    return pid


def test_sweep_kills_only_testfleets_orphaned_chromedrivers(tmp_path):
    """Another program's chromedriver adopted by init is not ours: only one marked TESTFLEET_BROWSER with an
    owner that died is swept."""
    plain = {"PATH": os.environ["PATH"]}
    foreign = orphaned_chromedriver(tmp_path, plain)
    ours = orphaned_chromedriver(tmp_path, {**plain, BROWSER_MARKER: str(dead_pid())})
    alive_owner = orphaned_chromedriver(tmp_path, {**plain, BROWSER_MARKER: str(os.getpid())})
    try:
        sweep_orphaned_browsers(str(tmp_path))
        wait_until(lambda: not is_running(ours), 5, 0.02, what="our orphan to be killed")
        assert is_running(foreign), "another program's chromedriver was killed"
        assert is_running(alive_owner), "a chromedriver whose owner lives was killed"
    finally:
        kill_processes({foreign, ours, alive_owner})
