"""The Celery app Flower runs with: it knows every queue, runs no task."""

from shared.celery_factory import make_celery
from shared.config import BaseServiceSettings


class MonitorSettings(BaseServiceSettings):
    service_name = "monitor"
    uses_tokens = False  # Flower has its own basic auth; it neither signs nor verifies bearer tokens


app = make_celery("monitor", MonitorSettings())
