"""Browsers of a SIGKILLed worker process are found and killed, their profiles removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shared.testing import wait_until
from web_test_service.runner.driver import PROFILE_PREFIX, browser_process_ids, sweep_orphaned_browsers

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

HOLD_A_BROWSER = """
import sys, time
from web_test_service.runner.driver import make_driver
browser = make_driver()
print(browser.profile_dir, flush=True)
time.sleep(120)
"""


def test_sweep_kills_the_browser_of_a_killed_process(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_A_BROWSER], stdout=subprocess.PIPE, env=env, text=True)
    profile = holder.stdout.readline().strip()
    assert Path(profile).name.startswith(f"{PROFILE_PREFIX}{holder.pid}-")
    assert browser_process_ids(None, profile), "the browser is running"
    os.kill(holder.pid, signal.SIGKILL)  # like a pool child killed mid-run: nothing quits the browser
    holder.wait(10)
    assert browser_process_ids(None, profile), "the browser outlived its owner"

    assert sweep_orphaned_browsers(str(tmp_path)) > 0
    wait_until(lambda: not browser_process_ids(None, profile), 10, 0.1, what="the orphaned browser to be gone")
    assert not Path(profile).exists()
