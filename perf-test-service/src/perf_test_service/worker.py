"""`celery -A perf_test_service.worker worker -Q perf`: the Celery app, inside the Flask app."""

from celery.signals import worker_process_init

from perf_test_service import create_app
from perf_test_service.config import PerfTestSettings
from perf_test_service.runner.containment import sweep_orphaned_runs
from shared.celery_factory import init_worker_liveness
from shared.child_env import seal_process
from shared.config import tokenless

# The worker neither verifies nor signs tokens: it needs no AUTH_SECRET (deploy/ does not give it one).
flask_app = create_app(tokenless(PerfTestSettings)())
celery_app = flask_app.extensions["celery"]
init_worker_liveness()
# Locust and the locustfile run as this user: they must not read this process's environment in /proc.
seal_process()


def sweep_runs_of_dead_workers(**_kwargs) -> None:
    """A pool child that starts (or replaces a killed one) first kills the Locust processes of dead runs."""
    sweep_orphaned_runs()


worker_process_init.connect(sweep_runs_of_dead_workers, weak=False)
