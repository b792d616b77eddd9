"""`gunicorn web_test_service.wsgi:app`."""

from web_test_service import create_app

app = create_app()
