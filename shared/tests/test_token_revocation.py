"""The token revocation list against a real Redis: revoke, prune, the snapshot, outages, and a real service app."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from shared import names
from shared.auth import encode_token
from shared.errors import ServiceUnavailable, Unauthorized
from shared.redis_client import redis_from_url
from shared.testing import TEST_SECRET, RedisServer, migrated_app, service_settings, wait_until
from shared.token_revocation import CLOCK_SKEW_S, RevocationList, read_revoked, revoke

pytestmark = pytest.mark.timeout(60)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RefusingPort:
    """Listens where a killed Redis did: accepts each connection, counts it and closes it at once."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1  # before the close: the client's error comes after the count
            conn.close()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept (a bare close would leave it blocked)
        self.sock.close()
        self._thread.join(5)


class SilentPort(RefusingPort):
    """Accepts connections and never answers, as a Redis behind a dead network would; release() closes them."""

    def __init__(self, port: int) -> None:
        self.held: list[socket.socket] = []
        self.connected = threading.Event()
        super().__init__(port)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.connected.set()

    def release(self) -> None:
        for conn in self.held:
            conn.close()


@pytest.fixture()
def own_redis(tmp_path):
    """A Redis of this test alone, which it may kill and start again."""
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def in_an_hour() -> int:
    return int(time.time()) + 3600


def refused(revocations: RevocationList, token_id: str) -> bool:
    try:
        revocations.check(token_id)
    except Unauthorized:
        return True
    return False


def test_a_revoked_id_is_refused_once_the_snapshot_is_refresh_s_old(redis_url):
    client, clock = redis_from_url(redis_url), FakeClock()
    revocations = RevocationList(client, refresh_s=1.0, clock=clock)
    revocations.check("ci-token")  # reads the (empty) list
    revoke(client, "ci-token", in_an_hour())
    clock.now += 0.99
    revocations.check("ci-token")  # the snapshot, not Redis, answers every request in between
    clock.now += 0.01
    with pytest.raises(Unauthorized, match="token revoked"):
        revocations.check("ci-token")


def test_a_revoked_id_is_refused_within_refresh_s_of_real_time(redis_url):
    client = redis_from_url(redis_url)
    revocations = RevocationList(client, refresh_s=0.5)
    revocations.check("ci-token")
    revoke(client, "ci-token", in_an_hour())
    wait_until(lambda: refused(revocations, "ci-token"), 0.5 + 1.0, 0.02, what="the revocation to be seen")


def test_unrevoked_ids_pass(redis_url):
    client = redis_from_url(redis_url)
    revoke(client, "revoked", in_an_hour())
    revocations = RevocationList(client)
    revocations.check("other")
    revocations.check("another")
    assert refused(revocations, "revoked")


def test_revoke_prunes_expired_entries_and_reads_skip_them(redis_url):
    client, now = redis_from_url(redis_url), int(time.time())
    client.zadd(names.REVOKED_TOKENS_KEY, {"long-expired": now - CLOCK_SKEW_S - 10})
    revoke(client, "just-expired", now - 5)  # kept a while: a service whose clock lags may still accept it
    revoke(client, "valid", now + 600)
    assert set(client.zrange(names.REVOKED_TOKENS_KEY, 0, -1)) == {b"just-expired", b"valid"}
    assert client.zscore(names.REVOKED_TOKENS_KEY, "valid") == now + 600
    assert read_revoked(client) == {"valid"}


def test_revoke_refuses_an_empty_id(redis_url):
    with pytest.raises(ValueError):
        revoke(redis_from_url(redis_url), "", in_an_hour())


def test_redis_down_serves_the_snapshot_until_the_stale_limit_then_refuses_and_recovers(own_redis, caplog):
    client, clock = redis_from_url(own_redis.url, 0.5), FakeClock()
    revocations = RevocationList(client, refresh_s=1.0, stale_limit_s=5.0, clock=clock)
    revoke(client, "revoked", in_an_hour())
    revocations.check("ok")
    own_redis.kill()
    caplog.set_level(logging.WARNING, logger="shared.token_revocation")

    for step in (1.0, 2.5, 4.99):  # each a failed refresh (or none: not due), the snapshot still serves
        clock.now = 1000.0 + step
        revocations.check("ok")
        assert refused(revocations, "revoked")
    clock.now = 1005.0
    with pytest.raises(ServiceUnavailable, match="revocation list cannot be read") as exc:
        revocations.check("ok")
    assert exc.value.status == 503
    clock.now = 1006.0
    with pytest.raises(ServiceUnavailable):
        revocations.check("ok")
    unreadable = [r for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(unreadable) == 1  # once per outage, not once per failed refresh

    own_redis.start()
    revoke(client, "revoked-later", in_an_hour())  # this Redis keeps nothing across a kill (no AOF)
    clock.now = 1007.0
    revocations.check("ok")
    assert refused(revocations, "revoked-later")
    clock.now = 1008.0
    revocations.check("ok")
    back = [r for r in caplog.records if "readable again" in r.getMessage()]
    assert len(back) == 1


def test_a_process_that_never_read_the_list_refuses_at_once(own_redis):
    client = redis_from_url(own_redis.url, 0.5)
    own_redis.kill()
    with pytest.raises(ServiceUnavailable):
        RevocationList(client).check("ok")


def test_one_refresh_attempt_per_interval_while_redis_is_down(own_redis):
    client, clock = redis_from_url(own_redis.url, 0.5), FakeClock()
    revocations = RevocationList(client, refresh_s=1.0, stale_limit_s=5.0, clock=clock)
    revocations.check("ok")
    own_redis.kill()
    port = RefusingPort(own_redis.port)  # every refresh attempt is one connection to it
    try:
        outcomes: list[str] = []

        def requests() -> None:
            for _ in range(20):
                try:
                    revocations.check("ok")
                    outcomes.append("ok")
                except ServiceUnavailable:
                    outcomes.append("503")

        for tick in range(1, 33):  # 8 s in steps of 0.25 s, 8 threads x 20 requests each step
            clock.now = 1000.0 + tick * 0.25
            threads = [threading.Thread(target=requests) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
        assert port.accepted == 8  # at 1001, 1002, ... 1008: one a second, whatever the load
        assert outcomes.count("ok") == 19 * 160  # 1000.25 to 1004.75: the snapshot serves
        assert outcomes.count("503") == 13 * 160  # 1005 to 1008: it is 5 s old
    finally:
        port.close()


def test_a_slow_refresh_does_not_hold_up_other_requests(own_redis):
    client, clock = redis_from_url(own_redis.url, 30), FakeClock()
    revocations = RevocationList(client, refresh_s=1.0, stale_limit_s=5.0, clock=clock)
    revoke(client, "revoked", in_an_hour())
    revocations.check("ok")
    own_redis.kill()
    port = SilentPort(own_redis.port)
    try:
        clock.now = 1001.5
        errors: list[BaseException] = []

        def refreshing() -> None:
            try:
                revocations.check("ok")
            except BaseException as exc:
                errors.append(exc)

        slow = threading.Thread(target=refreshing)
        slow.start()
        assert port.connected.wait(10)
        revocations.check("ok")  # answered from the snapshot while the refresh waits on a silent Redis
        assert refused(revocations, "revoked")
        assert slow.is_alive()
        port.release()
        slow.join(10)
        assert not errors  # the snapshot was 1.5 s old: the failed refresh still served it
    finally:
        port.close()


def me(client, token: str):
    return client.get("/api/v1/scheduler/me", headers={"Authorization": f"Bearer {token}"})


def test_a_service_refuses_a_revoked_token_within_5_s(redis_url, database_url, tmp_path):
    from scheduler_service.config import SchedulerSettings

    settings = service_settings(SchedulerSettings, redis_url, database_url, tmp_path)
    with migrated_app("scheduler_service", settings) as app:
        client = app.test_client()
        token = encode_token(TEST_SECRET, "ci-bot", "tester", 600, token_id="tok-revoked")
        kept = encode_token(TEST_SECRET, "ci-bot", "tester", 600, token_id="tok-kept")
        assert me(client, token).status_code == 200
        assert me(client, token).json == {"user": "ci-bot", "role": "tester"}

        revoke(redis_from_url(redis_url), "tok-revoked", int(time.time()) + 600)
        answer = wait_until(lambda: (r := me(client, token)).status_code == 401 and r, 5.0, 0.05, what="a 401")
        assert answer.json["error"] == {"code": "unauthorized", "message": "token revoked", "details": None}
        assert me(client, kept).status_code == 200


def test_a_service_fails_closed_for_tokens_with_an_id_while_redis_is_down(own_redis, database_url, tmp_path):
    from scheduler_service.config import SchedulerSettings

    settings = service_settings(SchedulerSettings, own_redis.url, database_url, tmp_path)
    with migrated_app("scheduler_service", settings) as app:
        client = app.test_client()
        api_token = encode_token(TEST_SECRET, "ci-bot", "tester", 600, token_id="tok-1")
        dev_token = encode_token(TEST_SECRET, "alice", "tester", 600)  # `make token`: no jti
        assert me(client, api_token).status_code == 200
        own_redis.kill()
        killed_at = time.monotonic()
        assert me(client, api_token).status_code == 200  # the snapshot is younger than the stale limit

        answer = wait_until(lambda: (r := me(client, api_token)).status_code == 503 and r, 8.0, 0.1, what="a 503")
        assert time.monotonic() - killed_at >= 4.0  # not before the snapshot is about 5 s old
        assert answer.json["error"]["code"] == "revocation_list_unavailable"
        assert "revocation list cannot be read" in answer.json["error"]["message"]
        assert me(client, dev_token).status_code == 200

        own_redis.start()
        wait_until(lambda: me(client, api_token).status_code == 200, 5.0, 0.1, what="recovery")
