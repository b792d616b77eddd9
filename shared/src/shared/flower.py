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

REFRESH_S = float(os.environ.get("TESTFLEET_FLOWER_REFRESH_S", "10"))
_original_start = Flower.start


def _start_with_refresh(self: Flower) -> None:
    PeriodicCallback(self.update_workers, REFRESH_S * 1000).start()
    _original_start(self)


Flower.start = _start_with_refresh

if __name__ == "__main__":
    sys.argv[0] = "celery"
    sys.exit(celery_main())
