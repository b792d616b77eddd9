"""Beat entries: daily cleanup and the reaper on each service's queue, schedule evaluation, the webhook sweep.

Every entry names its task (send_task semantics): the scheduler imports no other service.
"""

from __future__ import annotations

from celery.schedules import crontab

from scheduler_service.config import SchedulerSettings
from scheduler_service.cron import five_fields
from shared import names

# A cleanup that could not start within this long waits for the next day instead.
CLEANUP_EXPIRES_S = 12 * 3600


def beat_schedule(settings: SchedulerSettings) -> dict[str, dict]:
    """The static beat schedule, built from settings."""
    cleanup = crontab.from_string(five_fields(settings.cleanup_cron))  # in UTC, the app's timezone
    retention = {"retention_days": settings.result_retention_days}
    reap = {"heartbeat_timeout_s": settings.reaper_heartbeat_timeout_s}
    # A reap that waited a whole interval in the queue is superseded by the next one.
    reap_options = {"expires": settings.reaper_interval_s}
    entries = {
        names.BEAT_CLEANUP_WEB: {
            "task": names.WEB_CLEANUP_OLD_RESULTS,
            "schedule": cleanup,
            "kwargs": retention,
            "options": {"expires": CLEANUP_EXPIRES_S},
        },
        names.BEAT_CLEANUP_PERF: {
            "task": names.PERF_CLEANUP_OLD_RESULTS,
            "schedule": cleanup,
            "kwargs": retention,
            "options": {"expires": CLEANUP_EXPIRES_S},
        },
        names.BEAT_REAP_WEB: {
            "task": names.WEB_REAP_STUCK_RUNS,
            "schedule": settings.reaper_interval_s,
            "kwargs": reap,
            "options": reap_options,
        },
        names.BEAT_REAP_PERF: {
            "task": names.PERF_REAP_STUCK_RUNS,
            "schedule": settings.reaper_interval_s,
            "kwargs": reap,
            "options": reap_options,
        },
        names.BEAT_EVALUATE_SCHEDULES: {
            "task": names.MAINTENANCE_EVALUATE_SCHEDULES,
            "schedule": _evaluate_schedule(settings.schedule_evaluate_interval_s),
            "options": {"expires": settings.schedule_evaluate_interval_s},
        },
    }
    entries[names.BEAT_SWEEP_WEBHOOKS] = {
        "task": names.WEBHOOKS_SWEEP,
        "schedule": settings.webhook_sweep_interval_s,
        "options": {"expires": settings.webhook_sweep_interval_s},
    }
    if settings.beat_ping_interval_s:
        entries[names.BEAT_PING_MAINTENANCE] = {
            "task": names.MAINTENANCE_PING,
            "schedule": settings.beat_ping_interval_s,
            "options": {"expires": max(60.0, settings.beat_ping_interval_s)},
        }
    return entries


def _evaluate_schedule(interval_s: float):
    # Cron slots fall on whole minutes: at the default interval evaluate right at :00.
    return crontab() if interval_s == 60 else interval_s
