"""The beat scheduler: RedBeat's lock plus a tick heartbeat (file for probes, Redis for /ready)."""

from __future__ import annotations

import logging
import time

from redbeat import RedBeatScheduler

from shared.redis_client import redis_from_url

log = logging.getLogger(__name__)
BEAT_LAST_TICK_KEY = "testfleet:beat:last-tick"


class LockedScheduler(RedBeatScheduler):
    """RedBeat (one active beat among replicas) that records every tick it makes."""

    def tick(self, *args, **kwargs):
        next_wake = super().tick(*args, **kwargs)
        self._record_tick()
        return next_wake

    def _record_tick(self) -> None:
        settings = self.app.conf.get("testfleet_settings")
        if settings is None:
            return
        (settings.resolved_var_dir / "heartbeat").mkdir(parents=True, exist_ok=True)
        (settings.resolved_var_dir / "heartbeat" / "beat").touch()
        try:
            redis_from_url(settings.redis_url).set(BEAT_LAST_TICK_KEY, f"{time.time():.3f}", ex=3600)
        except Exception:  # the tick itself must go on while Redis blips
            log.warning("could not record the beat tick", exc_info=True)
