"""`celery -A web_test_service.worker worker -Q web`: the Celery app, inside the Flask app."""

from web_test_service import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
