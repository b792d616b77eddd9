"""Load on the submission path: 1,000 run submissions through the gateway from 20 concurrent clients.

What is measured: POST .../run (API + SQLite + broker) under concurrency. Every accepted
submission (202) must reach a terminal state, no response may be a 5xx, and the figures
(accepted/s over the submission window, p50/p95/p99 accept latency, 202/409/5xx counts and
the time until every run is terminal) are printed as `FIGURE load: ...`.

The mix, and why. A real run is not cheap on this machine: a web run starts a headless
Chromium (about 1 s of 2 cores), a load run starts Locust processes (about 2 s even for
1 user for 1 s), and the workers run 2 of each at a time. 1,000 real runs would take 10 to
20 minutes, so most submissions are cancelled by their user, which is a real user action
whose result (`stopped`) is a terminal state:

- each of the 20 clients (its own tester, its own keep-alive session) owns 40 scenarios and
  10 scripts, one per submission, so nothing is refused for being already active;
- 2 submissions per client run for real at priority 9 (1 load run: 1 user, 3 s against a
  local target; 1 web run: open that target): 40 real runs (not against the gateway: the
  platform's own endpoints are refused to tests). Under this load a 3-second load run takes
  5 to 12 s end to end, so 20 of them keep the perf worker busy for about a minute after the
  window, and the whole test for about 3 minutes;
- the other 48 per client are submitted at priority 0, so they wait behind the real ones,
  and are stopped by their owner after the submission window (POST .../stop: 202, or 409
  when the run already finished; the few that a worker took first may end `passed`).
  Their queued Celery messages are still delivered and must be discarded by the workers,
  which the test checks by waiting for both queues to drain and reading every run again:
  a settled run must stay settled.

Every accepted run is then read back through GET /runs/{run_id} until it is terminal, with
a deadline; a run that never gets there is a lost run and fails the test.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from shared.testing import wait_until
from tests.reliability.bounds import bound
from tests.reliability.faults_helpers import serve_ok

CLIENTS = 20
SCENARIOS_PER_CLIENT = 40
SCRIPTS_PER_CLIENT = 10
LIVE_PERF_PER_CLIENT = 1
LIVE_WEB_PER_CLIENT = 1
TERMINAL = {"passed", "failed", "error", "stopped"}
TERMINAL_DEADLINE_S = bound("load_settled_s")
HTTP_TIMEOUT_S = 60

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(900)]


@dataclass
class Submission:
    client: int
    kind: str  # "web" | "perf"
    target_id: str
    live: bool
    status: int | None = None  # HTTP status of POST .../run; None if the request itself failed
    latency_s: float = 0.0
    run_id: str | None = None
    error: str | None = None
    stop_status: int | None = None
    state: str | None = None
    run_error: dict | None = None  # the run's own error once settled

    @property
    def service(self) -> str:
        return "web-test" if self.kind == "web" else "perf-test"

    @property
    def target_path(self) -> str:
        return f"scripts/{self.target_id}" if self.kind == "web" else f"scenarios/{self.target_id}"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


class Client:
    """One user with its own keep-alive session."""

    def __init__(self, platform, index: int, target: str):
        self.index, self.target = index, target
        self.api = f"{platform.gateway}/api/v1"
        self.session = requests.Session()
        self.session.headers.update(platform.headers("tester", f"load-{index:02d}"))
        self.submissions: list[Submission] = []
        self.failures: list[str] = []  # non-2xx/409 answers outside the measured POST .../run

    def _expect(self, resp: requests.Response, *codes: int) -> requests.Response:
        if resp.status_code not in codes:
            self.failures.append(f"{resp.request.method} {resp.url} -> {resp.status_code} {resp.text[:200]}")
        return resp

    def create_targets(self) -> None:
        for j in range(SCENARIOS_PER_CLIENT):
            body = {"name": f"load-{self.index}-{j}", "host": self.target, "wait_time_ms": {"min": 100, "max": 200},
                    "requests": [{"name": "ok", "method": "GET", "path": "/", "expect_status": 200}]}  # fmt: skip
            resp = self._expect(self.session.post(f"{self.api}/perf-test/scenarios", json=body, timeout=30), 201)
            live = j < LIVE_PERF_PER_CLIENT
            self.submissions.append(Submission(self.index, "perf", resp.json()["id"], live))
        for j in range(SCRIPTS_PER_CLIENT):
            body = {"name": f"load-{self.index}-{j}", "base_url": self.target,
                    "commands": [{"command": "open", "target": "/", "value": ""}]}  # fmt: skip
            resp = self._expect(self.session.post(f"{self.api}/web-test/scripts", json=body, timeout=30), 201)
            live = j < LIVE_WEB_PER_CLIENT
            self.submissions.append(Submission(self.index, "web", resp.json()["id"], live))
        random.Random(self.index).shuffle(self.submissions)

    def submit_all(self, start: threading.Barrier) -> None:
        start.wait(timeout=60)
        for sub in self.submissions:
            body: dict = {"priority": 9 if sub.live else 0}
            if sub.kind == "perf":
                # 3 s, not 1: a load that made no request at all is an `error` (no_requests), and a
                # 1-s load on a starved machine may end before its one user sent anything.
                body |= {"user_count": 1, "spawn_rate": 1, "run_time": 3}
            url = f"{self.api}/{sub.service}/{sub.target_path}/run"
            began = time.perf_counter()
            try:
                resp = self.session.post(url, json=body, timeout=HTTP_TIMEOUT_S)
            except requests.RequestException as exc:
                sub.latency_s, sub.error = time.perf_counter() - began, repr(exc)
                continue
            sub.latency_s, sub.status = time.perf_counter() - began, resp.status_code
            if resp.status_code == 202:
                sub.run_id = resp.json()["run_id"]
            else:
                sub.error = resp.text[:300]

    def stop_cancelled(self) -> None:
        for sub in self.submissions:
            if sub.status == 202 and not sub.live:
                url = f"{self.api}/{sub.service}/{sub.target_path}/stop"
                resp = self._expect(self.session.post(url, timeout=HTTP_TIMEOUT_S), 202, 409)
                sub.stop_status = resp.status_code

    def read_states(self, only_active: bool = True) -> int:
        """Read the runs (the still active ones, or all); return how many are not terminal."""
        pending = 0
        for sub in self.submissions:
            if sub.run_id is None or (only_active and sub.state in TERMINAL):
                continue
            resp = self._expect(self.session.get(f"{self.api}/{sub.service}/runs/{sub.run_id}", timeout=30), 200)
            if resp.status_code == 200:
                sub.state, sub.run_error = resp.json()["state"], resp.json().get("error")
            pending += sub.state not in TERMINAL
        return pending


def run_parallel(clients: list[Client], fn) -> list:
    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(fn, clients))


def queues_drained(platform) -> bool:
    resp = requests.get(f"{platform.gateway}/api/v1/scheduler/status", headers=platform.headers("viewer"), timeout=30)
    queues = resp.json()["queues"]
    return queues["web"]["length"] == 0 and queues["perf"]["length"] == 0


@pytest.fixture(scope="module")
def target():
    with serve_ok() as url:
        yield url


def test_1000_submissions_from_20_clients_all_reach_a_terminal_state(platform, target):
    clients = [Client(platform, i, target) for i in range(CLIENTS)]
    began = time.monotonic()
    run_parallel(clients, Client.create_targets)
    setup_s = time.monotonic() - began
    assert not [f for c in clients for f in c.failures], [f for c in clients for f in c.failures][:5]

    start = threading.Barrier(CLIENTS + 1)
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(c.submit_all, start) for c in clients]
        start.wait(timeout=60)
        window_start = time.monotonic()
        for future in futures:
            future.result()
    window_s = time.monotonic() - window_start

    subs = [s for c in clients for s in c.submissions]
    codes = Counter(s.status for s in subs)
    accepted = [s for s in subs if s.status == 202]
    latencies = [s.latency_s for s in subs if s.status is not None]
    server_errors = [s for s in subs if s.status is None or s.status >= 500]

    stop_began = time.monotonic()
    run_parallel(clients, Client.stop_cancelled)
    stop_s = time.monotonic() - stop_began
    stop_codes = Counter(s.stop_status for s in subs if s.stop_status is not None)

    deadline = time.monotonic() + TERMINAL_DEADLINE_S
    while sum(run_parallel(clients, Client.read_states)) and time.monotonic() < deadline:
        time.sleep(1.0)
    all_terminal_s = time.monotonic() - window_start
    lost = [s for s in accepted if s.state not in TERMINAL]

    print(
        f"\nFIGURE load: {len(subs)} submissions from {CLIENTS} clients in {window_s:.1f} s; "
        f"accepted {len(accepted)} = {len(accepted) / window_s:.1f}/s; "
        f"accept latency p50 {percentile(latencies, 50) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.0f} ms; "
        f"codes {dict(sorted(codes.items(), key=str))}; 5xx/failed requests {len(server_errors)}"
    )
    print(
        f"FIGURE load: targets created in {setup_s:.1f} s; {sum(s.stop_status is not None for s in subs)} stops "
        f"in {stop_s:.1f} s {dict(stop_codes)}; all accepted runs terminal {all_terminal_s:.1f} s after the "
        f"window opened; states {dict(Counter((s.kind, 'live' if s.live else 'stopped', s.state) for s in accepted))}"
    )

    assert not server_errors, [(s.status, s.error) for s in server_errors[:5]]
    assert percentile(latencies, 99) * 1000 <= bound("load_accept_p99_ms")
    assert not [f for c in clients for f in c.failures], [f for c in clients for f in c.failures][:5]
    assert len(accepted) + codes[409] == len(subs), codes
    assert len(accepted) == len(subs), f"every target is fresh, so every submission is accepted: {codes}"
    assert not lost, (
        f"{len(lost)} accepted runs never reached a terminal state: {[(s.kind, s.run_id, s.state) for s in lost[:5]]}"
    )

    live = [s for s in accepted if s.live]
    assert all(s.state == "passed" for s in live), [(s.kind, s.state, s.run_error) for s in live if s.state != "passed"]
    # A cancelled run is stopped, or it passed: a worker took it before its owner stopped it and it
    # finished (stop: 409) or ended before it looked at the stop flag (a 1-step script, a 1-s load).
    cancelled = [s for s in accepted if not s.live]
    assert all(s.state in ("stopped", "passed") for s in cancelled), [
        (s.kind, s.state, s.run_error) for s in cancelled if s.state not in ("stopped", "passed")
    ]

    # The stopped runs' messages are still in the queues: the workers must discard them, not run them.
    wait_until(lambda: queues_drained(platform), 180, 1.0, what="the web and perf queues to drain")
    before = {s.run_id: s.state for s in accepted}
    run_parallel(clients, lambda c: c.read_states(only_active=False))
    changed = [(s.kind, s.run_id, before[s.run_id], s.state) for s in accepted if s.state != before[s.run_id]]
    assert not changed, f"settled runs changed state after the queues drained: {changed[:5]}"
