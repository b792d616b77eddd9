"""`gunicorn perf_test_service.wsgi:app`."""

from perf_test_service import create_app

app = create_app()
