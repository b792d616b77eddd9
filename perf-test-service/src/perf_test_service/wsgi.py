"""`gunicorn perf_test_service.wsgi:app`."""

from perf_test_service import create_app
from shared.child_env import seal_process

app = create_app()
# The locustfile check runs as this user: it must not read this process's environment in /proc (also done in the
# master by perf_test_service/gunicorn_conf.py; this covers a server started without that config).
seal_process()
