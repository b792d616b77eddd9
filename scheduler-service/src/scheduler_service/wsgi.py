"""`gunicorn scheduler_service.wsgi:app`."""

from scheduler_service import create_app

app = create_app()
