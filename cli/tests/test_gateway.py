"""The gateway client against a real HTTP server that plays a restarting gateway: retries, and what is not retried."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from testfleet_cli import gateway as gateway_module
from testfleet_cli.config import Config
from testfleet_cli.gateway import ApiError, AuthError, Gateway, Unreachable

ERROR = {"error": {"code": "bad_gateway", "message": "the web-test service is not answering", "details": None}}


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next scripted answer: (status, body), or "drop" to close without one."""

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer()

    def answer(self) -> None:
        server = self.server
        server.seen.append((self.command, self.path, self.headers.get("Authorization")))  # type: ignore[attr-defined]
        answer = server.script.pop(0) if server.script else (200, {"ok": True})  # type: ignore[attr-defined]
        if answer == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status, body, *headers = answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    httpd.script = []  # type: ignore[attr-defined]
    httpd.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(gateway_module, "BACKOFF_S", (0.01,))


def client(server, notes: list[str] | None = None) -> Gateway:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    return Gateway(Config(url, "the-token"), on_retry=(notes.append if notes is not None else None))


def test_a_restarting_gateway_is_waited_for(server):
    server.script += ["drop", (502, ERROR), (503, ERROR), (200, {"state": "running"})]
    notes: list[str] = []
    assert client(server, notes).get("/api/v1/web-test/runs/r1") == {"state": "running"}
    assert len(server.seen) == 4 and all(auth == "Bearer the-token" for _, _, auth in server.seen)
    assert "the web-test service is not answering" in notes[1] and "retrying" in notes[1]


def test_a_rate_limit_is_waited_out_as_asked(server):
    server.script += [(429, ERROR, ("Retry-After", "0.05")), (200, {"ok": 1})]
    assert client(server).get("/x") == {"ok": 1}


def test_an_outage_longer_than_allowed_gives_up(server):
    server.script += [(502, ERROR)] * 1000
    gateway = client(server)
    gateway.outage_s = 0.2
    with pytest.raises(Unreachable, match="not answering"):
        gateway.get("/x")


def test_a_refused_token_is_not_retried(server):
    server.script += [(401, {"error": {"code": "unauthorized", "message": "token expired", "details": None}})]
    with pytest.raises(AuthError, match="token expired"):
        client(server).get("/x")
    assert len(server.seen) == 1


def test_an_error_names_every_field_of_a_422(server):
    details = [{"field": "suite", "message": "no suite smoke"}, {"field": "retries", "message": "at most 5"}]
    body = {"error": {"code": "validation_error", "message": "suite: no suite smoke", "details": details}}
    server.script += [(422, body)]
    with pytest.raises(ApiError) as raised:
        client(server).post("/run", {})
    assert str(raised.value) == "suite: no suite smoke; retries: at most 5 [HTTP 422 validation_error]"


def test_a_start_that_may_have_been_done_is_not_sent_twice(server):
    server.script += [(504, ERROR), "drop"]
    with pytest.raises(ApiError):  # a 504: the service may have started the run
        client(server).post("/start", {}, done_if_sent=True)
    with pytest.raises(Unreachable, match="may have been done"):  # a reset after sending: the same
        client(server).post("/start", {}, done_if_sent=True)
    assert len(server.seen) == 2


def test_a_start_refused_before_it_was_done_is_retried(server):
    server.script += [(502, ERROR), (503, ERROR), (202, {"id": "p1"})]
    assert client(server).post("/start", {}, done_if_sent=True) == {"id": "p1"}


def test_a_server_that_is_not_testfleet_says_so(server):
    server.script += [(404, "<html>")]
    with pytest.raises(ApiError, match="not a TestFleet gateway answer"):
        client(server).get("/api/v1/web-test/me")


def test_nothing_listening_is_unreachable(server):
    gateway = client(server)
    server.shutdown()
    server.server_close()
    gateway.outage_s = 0.1
    with pytest.raises(Unreachable, match="connection refused"):
        gateway.get("/x")
