"""The save-time check of raw locustfiles runs hostile code: confined, scrubbed, a bounded answer, the API unharmed."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from perf_test_service.runner import containment, namespaces
from perf_test_service.runner.confine import Limits
from perf_test_service.runner.locustfile import CHECK_LIMITS, check_locustfile
from shared.testing import TEST_SECRET, wait_until

pytestmark = pytest.mark.timeout(120)
API = "/api/v1/perf-test"
SECRETS = {
    "AUTH_SECRET": TEST_SECRET,
    "DATABASE_URL": "postgresql://testfleet:db-password-7f3a@postgres:5432/perf_test",
    "REDIS_URL": "redis://:redis-password-91c2@redis:6379/0",
    "FLOWER_BASIC_AUTH": "ops:flower-password-5d1e",
}
USER = "\n\nfrom locust import HttpUser, task\n\nclass U(HttpUser):\n    @task\n    def t(self):\n        pass\n"


@pytest.fixture()
def secret_env(monkeypatch):
    """The platform's secrets in this (the API's) process environment, as in production."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def leaked(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text or value.split("@")[0][-10:] in text]


@pytest.mark.parametrize(
    "source",
    [
        "import os\nraise SystemExit(os.environ['AUTH_SECRET'])\n",
        "import os\nraise RuntimeError(repr(dict(os.environ)))\n",
        "import os\nprint(dict(os.environ))\nraise SystemExit(str(dict(os.environ)))\n",
        "import os\nprint(dict(os.environ), flush=True)\nx = 1\n",  # no User class: the 422 must not echo stdout
        "import os, sys\nsys.stderr.write(str(dict(os.environ)))\nraise ValueError('see stderr')\n",
    ],
    ids=["exit-with-secret", "raise-environ", "print-and-exit", "print-no-user", "stderr"],
)
def test_a_locustfile_reading_the_environment_gets_no_secret(client, auth_header, secret_env, source):
    body = {"name": "raw", "host": "http://127.0.0.1:8999", "locustfile": source}
    resp = client.post(f"{API}/scenarios", json=body, headers=auth_header("admin"))
    assert resp.status_code == 422, resp.json
    text = resp.get_data(as_text=True)
    assert not leaked(text), text
    assert len(resp.json["error"]["details"][0]["message"]) <= 500


def test_the_check_sees_only_the_scrubbed_environment(secret_env):
    source = "import os\nraise SystemExit(' '.join(sorted(os.environ)))\n" + USER
    error = check_locustfile(source)
    assert error is not None and error.startswith("locustfile.py line 2: SystemExit: ")
    names = set(error.split(": ", 2)[2].split())
    assert not names & set(SECRETS), names
    assert names <= {"PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
                     "REQUESTS_CA_BUNDLE", "HOME", "TESTFLEET_PERF_RUN"}  # fmt: skip


def test_the_error_is_one_bounded_line():
    error = check_locustfile("def f():\n    raise RuntimeError('x' * 100000)\n\nf()\n")
    assert error is not None and len(error) <= 500
    assert error.startswith("locustfile.py line 2: RuntimeError: xxx") and "\n" not in error


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("blob = bytearray(10 * 2**30)\n" + USER, "MemoryError"),
        ("while True:\n    pass\n", "more than 4 s of CPU time"),
        ("import time\ntime.sleep(3600)\n", "took longer than 12 s"),
        ("open('big', 'wb').write(b'x' * (64 * 2**20))\n" + USER, "File too large"),
    ],
    ids=["10-GB", "cpu-loop", "sleeps", "huge-file"],
)
def test_resource_hungry_locustfiles_are_422_within_the_deadline(client, auth_header, source, expected, monkeypatch):
    # The production limits with less CPU time and a shorter deadline, so the test takes seconds, not 20.
    monkeypatch.setattr("perf_test_service.runner.locustfile.CHECK_TIMEOUT_S", 12.0)
    quick = Limits(**{**vars(CHECK_LIMITS), "cpu_s": 4})
    monkeypatch.setattr("perf_test_service.runner.locustfile.CHECK_LIMITS", quick)
    api = psutil.Process()
    rss_before = api.memory_info().rss
    answered: list[float] = []

    answered_422 = threading.Event()

    def checking() -> bool:
        return answered_422.is_set() or any(
            "check_entry" in " ".join(child.cmdline()) for child in api.children(recursive=True)
        )

    def health_while_checking():
        # As soon as the check's process runs (that is when the API must still answer), or it already ended.
        wait_until(checking, 30, 0.02, what="the locustfile check to start", ignore=(psutil.Error,))
        started = time.monotonic()
        assert client.get(f"{API}/health").status_code == 200
        answered.append(time.monotonic() - started)

    probe = threading.Thread(target=health_while_checking)
    probe.start()
    started = time.monotonic()
    body = {"name": "raw", "host": "http://127.0.0.1:8999", "locustfile": source}
    resp = client.post(f"{API}/scenarios", json=body, headers=auth_header("admin"))
    took = time.monotonic() - started
    answered_422.set()
    probe.join(10)
    health_ms = answered[0] * 1000 if answered else -1
    print(f"FIGURE locustfile check ({expected}): 422 after {took:.1f}s; /health meanwhile in {health_ms:.0f} ms")
    assert resp.status_code == 422, resp.json
    assert expected in resp.json["error"]["message"]
    assert took < 12 + 3
    assert answered and answered[0] < 1.0
    assert api.memory_info().rss - rss_before < 200 * 2**20  # the 10 GB were never this process's
    checks = [
        p for p in psutil.process_iter(["cmdline", "status"]) if "check_entry" in " ".join(p.info["cmdline"] or [])
    ]
    assert not [p for p in checks if p.info["status"] != psutil.STATUS_ZOMBIE]


def test_processes_forked_by_the_check_are_killed(tmp_path):
    source = (
        "import os, time\n"
        "if os.fork() == 0:\n    time.sleep(600)\n    os._exit(0)\n"  # stays in the check's session
        "if os.fork() == 0:\n    os.setsid()\n"  # leaves it
        f"    open({str(tmp_path / 'setsid')!r}, 'w').write(str(os.getpid()))\n    time.sleep(600)\n    os._exit(0)\n"
    ) + USER
    assert check_locustfile(source) is None
    # The forked children have the check's command line.
    processes = psutil.process_iter(["cmdline"])
    survivors = [p.pid for p in processes if "check_entry.py" in " ".join(p.info["cmdline"] or [])]
    assert survivors == []
    assert (tmp_path / "setsid").read_text().isdigit()  # the daemon did start


def host_addresses() -> list[str]:
    """127.0.0.1 and this host's first non-loopback IPv4 address (a host with loopback only: loopback alone)."""
    others = [
        address.address
        for addresses in psutil.net_if_addrs().values()
        for address in addresses
        if address.family == socket.AF_INET and not ipaddress.ip_address(address.address).is_loopback
    ]
    return ["127.0.0.1", *others[:1]]


@pytest.fixture()
def listeners() -> Iterator[list[socket.socket]]:
    """A listening TCP socket on each of host_addresses(); connections wait in the backlog, never accepted."""
    with contextlib.ExitStack() as stack:
        sockets = []
        for address in host_addresses():
            listener = stack.enter_context(socket.create_server((address, 0)))
            listener.setblocking(False)
            sockets.append(listener)
        yield sockets


def connections_made(listener: socket.socket) -> int:
    """How many connections the kernel completed for listener (each one waits in its backlog)."""
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def test_the_check_has_no_network(client, auth_header, listeners):
    assert namespaces.prefix(network=True), "this machine can create network namespaces (root, or user namespaces)"
    targets = [listener.getsockname()[:2] for listener in listeners]
    source = f"import socket\nfor target in {targets!r}:\n    socket.create_connection(target, timeout=5).close()\n"
    body = {"name": "raw", "host": "http://127.0.0.1:8999", "locustfile": source + USER}
    resp = client.post(f"{API}/scenarios", json=body, headers=auth_header("admin"))
    assert [connections_made(listener) for listener in listeners] == [0] * len(listeners)
    # The first connect fails at import (no route: the namespace's only interface, lo, is down): a 422.
    assert resp.status_code == 422, resp.json
    message = resp.json["error"]["details"][0]["message"]
    assert message == "locustfile.py line 3: OSError: [Errno 101] Network is unreachable", message
    print(f"FIGURE check network: 0 connections reached {', '.join(f'{h}:{p}' for h, p in targets)}; 422: {message}")


def test_the_check_without_namespaces_still_kills_what_it_forked(tmp_path, monkeypatch):
    """Where namespaces cannot be made, the session and the marker hold (a daemon keeping its environment)."""
    monkeypatch.setattr(namespaces, "prefix", lambda **_: [])
    test_processes_forked_by_the_check_are_killed(tmp_path)


def test_a_perf_worker_starting_meanwhile_leaves_the_check_alone():
    """Its marker names a live owner (this process): the sweep of a perf worker starting on this host spares it."""
    api, swept = psutil.Process(), []

    def checking() -> bool:
        # One child gone or a zombie (another test's) must not hide the check.
        for child in api.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "check_entry" in " ".join(child.cmdline()):
                    return True
        return False

    def sweep_while_checking():
        wait_until(checking, 30, 0.02, what="the locustfile check to start", ignore=(psutil.Error,))
        swept.append(containment.sweep_orphaned_runs())

    sweeper = threading.Thread(target=sweep_while_checking)
    sweeper.start()
    try:
        assert check_locustfile("import time\ntime.sleep(2)\n" + USER) is None
    finally:
        sweeper.join(35)
    assert swept, "the sweep ran while the check did"
