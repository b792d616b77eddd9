"""/ready goes 503 naming redis while Redis is down, and 200 again when it returns."""

from __future__ import annotations

import pytest

from shared.migrations import upgrade
from shared.testing import RedisServer, service_env, service_settings, wait_until
from tests.platform.services import SERVICES

pytestmark = pytest.mark.timeout(180)
WEB = SERVICES[0]


def test_ready_tracks_redis_outage(tmp_path, start_worker):
    redis = RedisServer(tmp_path / "redis-data")
    (tmp_path / "redis-data").mkdir()
    redis.start()
    try:
        db = f"sqlite:///{tmp_path / 'web.db'}"
        settings = service_settings(WEB.settings_cls(), redis.url, db, tmp_path, ready_check_timeout_s=1.0)
        upgrade(WEB.package, settings.sqlalchemy_url)
        client = WEB.create_app(settings).test_client()
        start_worker(WEB.worker_module, WEB.queue, service_env(redis.url, db, tmp_path))
        assert client.get(f"{WEB.prefix}/ready").status_code == 200

        redis.stop()
        down = client.get(f"{WEB.prefix}/ready")
        assert down.status_code == 503
        assert "redis" in down.json["error"]["message"]
        assert down.json["error"]["details"]["checks"]["redis"]["ok"] is False
        assert down.json["error"]["details"]["checks"]["database"]["ok"] is True

        redis.start()  # same port; the worker reconnects and re-announces itself
        wait_until(lambda: client.get(f"{WEB.prefix}/ready").status_code == 200, 90, 0.5, what="ready again")
    finally:
        redis.stop()
