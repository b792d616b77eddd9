"""The filtering proxy on real sockets: relaying, refusing, pinning, tunnels, and nothing left after close()."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.host_policy import HostPolicy, Target
from web_test_service.runner.proxy import FilteringProxy

pytestmark = pytest.mark.timeout(60)

SETTING = "WEB_ALLOWED_HOSTS"


class Origin(BaseHTTPRequestHandler):
    """A target server: echoes what it got, counts hits; /redirect?to=X answers 302 to X."""

    protocol_version = "HTTP/1.1"
    hits: list[str]

    def do_GET(self) -> None:
        self.server.hits.append(f"{self.command} {self.path}")  # type: ignore[attr-defined]
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"first ", b"second"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = f"{self.command} {self.path} host={self.headers['Host']} body={body.decode()} SECRET-CONTENT".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def serve(host: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, 0), Origin)
    server.daemon_threads = True
    server.hits = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def allowed() -> Iterator[ThreadingHTTPServer]:
    server = serve("127.0.0.1")
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def forbidden() -> Iterator[ThreadingHTTPServer]:
    """Loopback, but an address the policy does not name: it would answer if reached."""
    server = serve("127.0.0.2")
    yield server
    server.shutdown()


@pytest.fixture()
def proxy() -> Iterator[FilteringProxy]:
    running = FilteringProxy(HostPolicy.from_setting("*,127.0.0.1", SETTING))
    yield running
    running.close()


def through(proxy: FilteringProxy, method: str, url: str, body: bytes | None = None, **headers: str):
    """One request through the proxy as a browser sends it (absolute URL): (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        conn.request(method, url, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_an_allowed_request_is_relayed_with_its_body_and_host(proxy, allowed):
    port = allowed.server_address[1]
    status, body = through(proxy, "POST", f"http://127.0.0.1:{port}/form?a=1", b"x=1")
    assert status == 200
    assert body.startswith(f"POST /form?a=1 host=127.0.0.1:{port} body=x=1".encode())
    assert through(proxy, "GET", f"http://127.0.0.1:{port}/chunked") == (200, b"first second")
    assert proxy.take_refusals() == []


def test_a_browser_connection_is_kept_alive_and_each_request_judged_afresh(proxy, allowed, forbidden):
    port, other = allowed.server_address[1], forbidden.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    conn.request("GET", f"http://127.0.0.1:{port}/one")
    assert conn.getresponse().read().startswith(b"GET /one")
    conn.request("GET", f"http://127.0.0.1:{port}/two")  # the same connection to the proxy
    assert conn.getresponse().read().startswith(b"GET /two")
    conn.request("GET", f"http://127.0.0.2:{other}/three")  # ... then another host on it
    refused = conn.getresponse()
    assert (refused.status, refused.read()) == (403, b"blocked by WEB_ALLOWED_HOSTS\n")
    conn.close()
    assert forbidden.hits == []


@pytest.mark.parametrize(
    "host", ["127.0.0.2", "[::ffff:127.0.0.2]", "169.254.169.254", "[::ffff:a9fe:a9fe]", "[64:ff9b::a9fe:a9fe]"]
)
def test_a_refused_host_gets_only_the_policy_page_and_is_recorded(proxy, forbidden, host):
    status, body = through(proxy, "GET", f"http://{host}:{forbidden.server_address[1]}/secret")
    assert (status, body) == (403, b"blocked by WEB_ALLOWED_HOSTS\n")
    (refusal,) = proxy.take_refusals()
    assert refusal.message.startswith(f"Blocked by {SETTING}: ")  # the host in its canonical form
    assert "/secret" not in refusal.message  # the target's host and port, never its path
    assert forbidden.hits == []


def test_the_platforms_own_endpoints_are_refused_even_on_an_allowed_address(allowed):
    port = allowed.server_address[1]
    running = FilteringProxy(HostPolicy.from_setting("127.0.0.1,localhost", SETTING, [Target("127.0.0.1", port)]))
    try:
        assert through(running, "GET", f"http://localhost:{port}/")[0] == 403
        assert "platform's own endpoints" in running.take_refusals()[0].reason
    finally:
        running.close()
    assert not [hit for hit in allowed.hits if hit == "GET /"]


def test_a_name_is_connected_only_to_the_addresses_the_policy_judged(allowed, forbidden):
    """Pinning: app.test exists only for the policy's resolver, so a connection by name would fail; a name
    that also resolves to a refused address (a rebinding answer) is refused as a whole."""
    answers = {"app.test": ["127.0.0.1"], "rebind.test": ["127.0.0.1", "169.254.169.254"]}
    policy = HostPolicy.from_setting("*.test,127.0.0.1", SETTING, resolver=lambda name: answers[name])
    running = FilteringProxy(policy)
    try:
        port = allowed.server_address[1]
        status, body = through(running, "GET", f"http://app.test:{port}/pinned")
        assert status == 200 and body.startswith(f"GET /pinned host=app.test:{port}".encode())
        assert through(running, "GET", f"http://rebind.test:{port}/")[0] == 403
        assert "169.254.169.254" in running.take_refusals()[0].reason
    finally:
        running.close()


def test_a_redirect_to_a_local_url_is_refused_and_named(proxy, allowed):
    port = allowed.server_address[1]
    for target in ("file:///etc/passwd", "data:text/html,x", "view-source:http://x/"):
        assert through(proxy, "GET", f"http://127.0.0.1:{port}/redirect?to={target}") == (
            403,
            b"blocked by WEB_ALLOWED_HOSTS\n",
        )
    schemes = [refusal.target for refusal in proxy.take_refusals()]
    assert schemes == ["a redirect to a file: URL", "a redirect to a data: URL", "a redirect to a view-source: URL"]
    # An ordinary redirect passes as it is; the browser's next request is judged on its own.
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    conn.request("GET", f"http://127.0.0.1:{port}/redirect?to=/elsewhere")
    response = conn.getresponse()
    assert (response.status, response.getheader("Location")) == (302, "/elsewhere")
    conn.close()


def connect_through(proxy: FilteringProxy, target: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(4096)
        if not data:
            break
        head += data
    return sock, head


def test_a_tunnel_is_judged_then_carries_bytes_both_ways(proxy, allowed, forbidden):
    sock, head = connect_through(proxy, f"127.0.0.1:{allowed.server_address[1]}")
    assert head.startswith(b"HTTP/1.1 200")
    sock.sendall(b"GET /tunnelled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    received = b""
    while data := sock.recv(4096):
        received += data
    assert b"GET /tunnelled" in received
    sock.close()
    sock, head = connect_through(proxy, f"127.0.0.2:{forbidden.server_address[1]}")
    assert head.startswith(b"HTTP/1.1 403")
    sock.close()
    assert forbidden.hits == []


def test_an_unreachable_target_is_a_reset_not_a_page(proxy):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        through(proxy, "GET", f"http://127.0.0.1:{port}/")
    (unreachable,) = proxy.take_unreachable()
    assert unreachable.target == f"127.0.0.1:{port}" and "refused" in unreachable.reason
    assert proxy.take_refusals() == []


def test_the_browsers_own_service_requests_are_refused_but_not_reported():
    running = FilteringProxy(HostPolicy.from_setting("127.0.0.1", SETTING))
    try:
        assert through(running, "GET", "http://accounts.google.com/ListAccounts")[0] == 403
        assert running.take_refusals() == []
    finally:
        running.close()


def test_close_cuts_open_tunnels_and_stops_listening(allowed):
    running = FilteringProxy(HostPolicy.from_setting("127.0.0.1", SETTING))
    port = running.port
    sock, head = connect_through(running, f"127.0.0.1:{allowed.server_address[1]}")
    assert head.startswith(b"HTTP/1.1 200")
    running.close()
    assert sock.recv(10) == b""  # the tunnel was cut
    sock.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    running.close()  # idempotent


def test_it_listens_on_loopback_only(proxy):
    assert proxy.address == f"127.0.0.1:{proxy.port}"
    assert proxy._server.server_address[0] == "127.0.0.1"
