"""`celery -A scheduler_service.worker worker -Q maintenance` and `... beat`."""

from scheduler_service import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
