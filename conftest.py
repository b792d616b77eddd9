"""Root conftest: every suite gets the platform's fixtures (real Redis, databases, workers)."""

pytest_plugins = ["shared.testing"]
