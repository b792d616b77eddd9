"""The Celery app Flower runs with: it knows every queue, runs no task."""

from shared.celery_factory import make_celery
from shared.config import BaseServiceSettings


class MonitorSettings(BaseServiceSettings):
    service_name = "monitor"


app = make_celery("monitor", MonitorSettings())
