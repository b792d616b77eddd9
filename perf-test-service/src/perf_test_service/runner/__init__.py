"""The worker side of a load run: Locust in its own processes, never imported into the Celery worker.

`locustfile` turns a scenario into Locust source, `process` starts and watches the Locust processes
(whose entry point is `locust_entry`, run by path), `thresholds` turns the final stats into a verdict.
Nothing here imports Flask or Celery.
"""
