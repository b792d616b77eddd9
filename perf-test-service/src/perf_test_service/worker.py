"""`celery -A perf_test_service.worker worker -Q perf`: the Celery app, inside the Flask app."""

from perf_test_service import create_app
from shared.celery_factory import init_worker_liveness

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
init_worker_liveness()
