"""Run Flower with its worker list kept fresh.

Flower inspects workers only when it starts (or on ?refresh=1), so workers that come up
after it, or are scaled out later, are missing from /flower/api/workers. This launcher
re-inspects every TESTFLEET_FLOWER_REFRESH_S seconds (not FLOWER_*: Flower reads every
FLOWER_* variable as one of its options and exits on unknown ones).
Usage: `python -m shared.flower <celery args>`.
"""

from __future__ import annotations

import os
import sys

from celery.__main__ import main as celery_main
from flower.app import Flower
from tornado.ioloop import PeriodicCallback


def init_flower_refresh(refresh_s: float) -> None:
    """Make Flower re-inspect the workers every refresh_s seconds once it starts."""
    original_start = Flower.start

    def start_with_refresh(self: Flower) -> None:
        PeriodicCallback(self.update_workers, refresh_s * 1000).start()
        original_start(self)

    Flower.start = start_with_refresh


if __name__ == "__main__":
    init_flower_refresh(float(os.environ.get("TESTFLEET_FLOWER_REFRESH_S", "10")))
    sys.argv[0] = "celery"
    sys.exit(celery_main())
