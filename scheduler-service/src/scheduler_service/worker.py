"""`celery -A scheduler_service.worker worker -Q maintenance,webhooks` and `... beat`."""

from scheduler_service import create_app
from scheduler_service.beat import init_beat
from shared.celery_factory import init_worker_liveness

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
init_worker_liveness()
init_beat()
