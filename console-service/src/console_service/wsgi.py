"""The console for gunicorn: `gunicorn console_service.wsgi:app`."""

from console_service import create_app

app = create_app()
