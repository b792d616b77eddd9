"""`gunicorn -c python:perf_test_service.gunicorn_conf perf_test_service.wsgi:app`: the API's server hooks."""

from shared.child_env import seal_process


def on_starting(_server) -> None:
    """Seal the master before it forks the workers (they inherit it): a locustfile check must not read its /proc."""
    seal_process()
