"""Queue, task and beat-entry names: the one place these strings are spelled."""

# Queues: one per worker pool. Workers run `-Q <queue>` and nothing else.
WEB_QUEUE = "web"
PERF_QUEUE = "perf"
MAINTENANCE_QUEUE = "maintenance"
# Webhook events and their deliveries: consumed by the maintenance worker (-Q maintenance,webhooks), kept
# apart so a slow receiver never delays a schedule's firing.
WEBHOOKS_QUEUE = "webhooks"
ALL_QUEUES = (WEB_QUEUE, PERF_QUEUE, MAINTENANCE_QUEUE, WEBHOOKS_QUEUE)

# Services, as they appear in URLs (/api/v1/<service>/...) and in settings.
WEB_TEST_SERVICE = "web-test"
PERF_TEST_SERVICE = "perf-test"
SCHEDULER_SERVICE = "scheduler"
# The console (accounts, API tokens, pages) has no queue; its JSON API lives under /api/v1/auth.
CONSOLE_SERVICE = "console"
SERVICE_QUEUE = {
    WEB_TEST_SERVICE: WEB_QUEUE,
    PERF_TEST_SERVICE: PERF_QUEUE,
    SCHEDULER_SERVICE: MAINTENANCE_QUEUE,
}

# Task names. The prefix before the dot picks the queue (see TASK_ROUTES).
WEB_PING = "web.ping"
WEB_RUN_SCRIPT = "web.run_script"
WEB_RUN_LANE = "web.run_lane"  # the tests of a project run that one browser slot runs in order
WEB_CLEANUP_OLD_RESULTS = "web.cleanup_old_results"
WEB_REAP_STUCK_RUNS = "web.reap_stuck_runs"

PERF_PING = "perf.ping"
PERF_RUN_SCENARIO = "perf.run_scenario"
PERF_CLEANUP_OLD_RESULTS = "perf.cleanup_old_results"
PERF_REAP_STUCK_RUNS = "perf.reap_stuck_runs"

MAINTENANCE_PING = "maintenance.ping"
MAINTENANCE_FIRE_SCHEDULE = "maintenance.fire_schedule"
MAINTENANCE_RECORD_JOB = "maintenance.record_job"

PING_TASK = {WEB_QUEUE: WEB_PING, PERF_QUEUE: PERF_PING, MAINTENANCE_QUEUE: MAINTENANCE_PING}

TASK_ROUTES = {
    "web.*": {"queue": WEB_QUEUE},
    "perf.*": {"queue": PERF_QUEUE},
    "maintenance.*": {"queue": MAINTENANCE_QUEUE},
    "webhooks.*": {"queue": WEBHOOKS_QUEUE},
}

# Webhooks (scheduler-service): an event from any service's run lifecycle is published with
# WEBHOOKS_PUBLISH_EVENT (args: [envelope]); it becomes one delivery per matching webhook, which
# WEBHOOKS_DELIVER sends in order (kwargs webhook_id); WEBHOOKS_SWEEP, from beat, sends what is due.
WEBHOOKS_PUBLISH_EVENT = "webhooks.publish_event"
WEBHOOKS_DELIVER = "webhooks.deliver"
WEBHOOKS_SWEEP = "webhooks.sweep"
BEAT_SWEEP_WEBHOOKS = "sweep-webhooks"
# Held while one worker sends a webhook's deliveries (their order), per webhook.
WEBHOOK_LOCK_KEY = "testfleet:webhook-lock:{webhook_id}"


# Beat entries (scheduler-service sends them by task name, never by import).
BEAT_CLEANUP_WEB = "cleanup-old-results-web"
BEAT_CLEANUP_PERF = "cleanup-old-results-perf"
BEAT_REAP_WEB = "reap-stuck-runs-web"
BEAT_REAP_PERF = "reap-stuck-runs-perf"

# Redis keys written by workers so /ready can tell a queue has a live consumer.
WORKER_ALIVE_KEY = "testfleet:worker-alive:{queue}:{hostname}"

# Scheduler additions: schedule evaluation, the diagnostic ping entry, system job names.
MAINTENANCE_EVALUATE_SCHEDULES = "maintenance.evaluate_schedules"
BEAT_EVALUATE_SCHEDULES = "evaluate-schedules"
BEAT_PING_MAINTENANCE = "ping-maintenance"
# System jobs as services report them with MAINTENANCE_RECORD_JOB (kwargs job, service, outcome).
JOB_CLEANUP_OLD_RESULTS = "cleanup_old_results"
JOB_REAP_STUCK_RUNS = "reap_stuck_runs"
SYSTEM_JOBS = (JOB_CLEANUP_OLD_RESULTS, JOB_REAP_STUCK_RUNS)

# Redis keys of a run: its lock (held by the executing worker) and its stop flag (raised by the API).
RUN_LOCK_KEY = "testfleet:run-lock:{run_id}"
RUN_STOP_KEY = "testfleet:run-stop:{run_id}"

# The console's failed-login counters, per account name and per client address (console_service.login_throttle).
LOGIN_FAILURES_KEY = "testfleet:login-failures:{who}"

# The revoked API tokens: a sorted set, member = the token's id (jti), score = its exp (unix time).
REVOKED_TOKENS_KEY = "testfleet:revoked-tokens"
