"""`celery -A web_test_service.worker worker -Q web`: the Celery app, inside the Flask app."""

from celery.signals import worker_process_init

from shared.celery_factory import init_worker_liveness
from shared.config import tokenless
from web_test_service import create_app
from web_test_service.config import WebTestSettings
from web_test_service.tasks import sweep_browsers_of_dead_children

flask_app = create_app(tokenless(WebTestSettings)())  # no AUTH_SECRET: it verifies no token
celery_app = flask_app.extensions["celery"]
init_worker_liveness()
# A pool child that replaces a killed one first removes the browsers the dead one left.
worker_process_init.connect(sweep_browsers_of_dead_children, weak=False)
