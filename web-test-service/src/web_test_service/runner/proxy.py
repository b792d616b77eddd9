"""A filtering HTTP forward proxy for one browser: the web target policy applied to every request of the page."""

# driver.py starts Chromium with --proxy-server pointing here and loopback not bypassed, so navigations,
# redirects, frames, window.open, form posts, fetch/XHR and WebSockets all arrive here first. A plain request or
# a CONNECT tunnel is judged by HostPolicy.check(host, port) and connected only to the addresses it returned:
# the name is resolved once, here, so a second DNS answer cannot move the connection (rebinding). A refused
# request gets a 403 whose body names the policy and nothing of the target; the refusal is recorded for the
# engine (runner/policy.py), which ends the step in error. A redirect to a file:, data: or other non-network
# URL is refused here too: Chromium would block it, but silently.
#
# Why not a library: proxy.py runs its acceptors as separate processes (sockets handed between them), so each
# refusal would have to cross processes to reach the run, from inside a Celery pool child; mitmproxy is built
# to intercept TLS, which this does not need. What is here is the part of HTTP/1.1 a forward proxy needs:
# request and response framing, hop-by-hop headers and tunnels.
#
# It listens on 127.0.0.1 (for a Grid's browser: WEB_PROXY_HOST), on a port the kernel picks, for the lifetime
# of one browser. Whoever else reaches it meanwhile gains nothing: no more than the policy allows.

from __future__ import annotations

import http.client
import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler
from urllib.parse import urljoin, urlsplit

from shared.host_policy import (
    HostNotAllowed,
    HostPolicy,
    HostUnresolved,
    IPAddress,
    Target,
    normalise_host,
    parse_target,
)
from web_test_service.runner.policy import url_of

log = logging.getLogger(__name__)

NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})
# Headers that describe one connection, not the message: never forwarded (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te", "trailer"}
    | {"transfer-encoding", "upgrade", "content-length"}  # re-framed here, see relay_request/relay_response
)
CONNECT_TIMEOUT_S = 10.0
# An upstream that sends nothing this long is dropped; a hung page is the engine's watchdog's business anyway.
IDLE_TIMEOUT_S = 300.0
CHUNK = 64 * 1024
# Chromium talks to these by itself (sign-in, component updates, network time, Debian's default search engine),
# whatever the flags say. When the policy refuses them they are refused like any host, but not reported as
# the script's doing: they would turn every run under a narrow WEB_ALLOWED_HOSTS into an error.
BROWSER_SERVICE_HOSTS = ("*.google.com", "*.googleapis.com", "*.gvt1.com", "start.duckduckgo.com")


@dataclass(frozen=True)
class Refusal:
    """One request the policy refused: where it went (host:port or a scheme, never a path) and why."""

    target: str
    reason: str
    setting: str = "WEB_ALLOWED_HOSTS"

    @property
    def message(self) -> str:
        return f"Blocked by {self.setting}: {self.target}: {self.reason}"


@dataclass(frozen=True)
class Unreachable:
    """An allowed target that did not answer (no address, connection refused): the browser sees a reset."""

    target: str
    reason: str
    requested: str = ""  # host:port as the browser asked for it, when target is the address it resolved to

    def names(self, endpoint: str) -> bool:
        """Whether this is about endpoint (host:port as show() writes it), by name or by address."""
        return endpoint in (self.target, self.requested)


class FilteringProxy:
    """The proxy of one browser: started at once on host (127.0.0.1), closed (with every connection) by close()."""

    def __init__(self, policy: HostPolicy, host: str = "127.0.0.1") -> None:
        self.policy = policy
        self._refusals: list[Refusal] = []
        self._unreachable: list[Unreachable] = []
        self._lock = threading.Lock()
        self._server = _Server(self, host)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="web-proxy", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """The address it listens on (a name given is resolved once, at the start)."""
        return str(self._server.server_address[0])

    @property
    def address(self) -> str:
        """host:port for Chromium's --proxy-server."""
        return show(self.host, self.port)

    def guard(self, targets: Iterable[Target]) -> None:
        """Refuse these endpoints too (the browser's own control ports: chromedriver, DevTools, this proxy)."""
        self.policy = replace(self.policy, internal=(*self.policy.internal, *targets))

    def refuse(self, refusal: Refusal, host: str) -> None:
        if any(fnmatchcase(host, pattern) for pattern in BROWSER_SERVICE_HOSTS):
            log.debug("browser's own request refused: %s", refusal.message)
            return
        with self._lock:
            self._refusals.append(refusal)
        log.warning("web run request refused: %s", refusal.message)

    def note_unreachable(self, unreachable: Unreachable) -> None:
        with self._lock:
            self._unreachable = [*self._unreachable[-9:], unreachable]

    def take_refusals(self) -> list[Refusal]:
        """The refusals since the last call (each is reported once)."""
        with self._lock:
            taken, self._refusals = self._refusals, []
        return taken

    def take_unreachable(self) -> list[Unreachable]:
        """The last few allowed targets that did not answer, since the last call."""
        with self._lock:
            taken, self._unreachable = self._unreachable, []
        return taken

    def close(self) -> None:
        """Stop listening and cut every open connection, tunnels included (idempotent)."""
        if not self._thread.is_alive():
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.cut_all()
        self._thread.join(timeout=5)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, proxy: FilteringProxy, host: str) -> None:
        # A name may resolve to several addresses (a scaled compose service: one per replica): the first that
        # is this machine's is the one to listen on.
        error: OSError = OSError(f"{host} resolves to no address")
        for family, _, _, _, address in socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM):
            self.address_family = family
            try:
                super().__init__((str(address[0]), 0), _Handler)
                break
            except OSError as exc:
                error = exc
        else:
            raise error
        self.proxy = proxy
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def track(self, sock: socket.socket) -> None:
        with self._open_lock:
            self._open.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(sock)
        with suppress(OSError):
            sock.close()

    def cut_all(self) -> None:
        with self._open_lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            # shutdown() wakes a thread blocked in recv() on it; close() alone would not.
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S  # an idle keep-alive connection from the browser is closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        with suppress(OSError):
            super().finish()
        self.server.untrack(self.connection)

    def log_message(self, format: str, *args: object) -> None:
        pass  # a request line may carry a secret in its query; only refusals are logged, without paths

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline or len(self.raw_requestline) > 65536:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            if self.command == "CONNECT":
                self.tunnel()
            else:
                self.forward()
        except (OSError, ValueError, http.client.HTTPException):  # a broken peer or malformed framing
            self.close_connection = True

    # ---- judging -----------------------------------------------------------------------------------

    def judge(self, host: str, port: int) -> list[IPAddress] | None:
        """The pinned addresses for host:port, or None after answering (403 if refused, a reset if unknown)."""
        host = normalise_host(host)
        policy = self.server.proxy.policy
        try:
            return policy.check(host, port)
        except HostUnresolved:  # a name that does not exist is not refused: it is unreachable, and Chromium says so
            self.reset(Unreachable(show(host, port), "the name does not resolve"))
        except HostNotAllowed as refused:
            self.block(Refusal(show(host, port), str(refused), policy.setting), host)
        return None

    def block(self, refusal: Refusal, host: str) -> None:
        self.server.proxy.refuse(refusal, host)
        self.reply(403, f"blocked by {refusal.setting}\n")

    def connect(self, addresses: list[IPAddress], port: int, host: str) -> socket.socket | None:
        """A connection to the first pinned address that answers, or None after resetting the browser's."""
        error: OSError | None = None
        for address in addresses:
            try:
                upstream = socket.create_connection((str(address), port), timeout=CONNECT_TIMEOUT_S)
            except OSError as exc:
                error = exc
                continue
            upstream.settimeout(IDLE_TIMEOUT_S)
            self.server.track(upstream)
            return upstream
        reason = getattr(error, "strerror", None) or str(error) or "no answer"
        self.reset(Unreachable(show(str(addresses[0]), port), reason.lower(), show(normalise_host(host), port)))
        return None

    def reset(self, unreachable: Unreachable) -> None:
        """Answer an unreachable target with a TCP reset: Chromium then fails the load with a network error
        (net::ERR_CONNECTION_RESET), as it would without a proxy, where a 502 page would load as if it worked."""
        self.server.proxy.note_unreachable(unreachable)
        self.close_connection = True
        with suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def reply(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")  # the request's body, if any, was not read
        self.end_headers()
        self.wfile.write(body)

    # ---- CONNECT: https, wss ------------------------------------------------------------------------

    def tunnel(self) -> None:
        self.close_connection = True
        try:
            target = parse_target(self.path, 443)
        except HostNotAllowed:
            self.reply(400, "bad CONNECT target\n")
            return
        addresses = self.judge(target.host, target.port)
        upstream = self.connect(addresses, target.port, target.host) if addresses else None
        if upstream is None:
            return
        try:
            self.send_response_only(200, "Connection established")
            self.end_headers()
            # A tunnel (a WebSocket) may be idle for long; close() cuts it when the browser goes.
            upstream.settimeout(None)
            self.connection.settimeout(None)
            outbound = threading.Thread(target=copy, args=(self.rfile.read1, upstream), daemon=True)
            outbound.start()
            copy(upstream.recv, self.connection)
            outbound.join()
        finally:
            self.server.untrack(upstream)

    # ---- plain http ---------------------------------------------------------------------------------

    def forward(self) -> None:
        try:
            url = urlsplit(self.path)
            host, port = url.hostname, url.port or 80
        except ValueError:
            host = None
        if url.scheme != "http" or not host:
            self.close_connection = True
            self.reply(400, "this proxy takes absolute http:// request targets only\n")
            return
        addresses = self.judge(host, port)
        upstream = self.connect(addresses, port, host) if addresses else None
        if upstream is None:
            self.close_connection = True
            return
        try:
            self.relay_request(upstream, url.path or "/", url.query)
            response = http.client.HTTPResponse(upstream, method=self.command)
            response.begin()
            self.relay_response(response)
        finally:
            self.server.untrack(upstream)

    def relay_request(self, upstream: socket.socket, path: str, query: str) -> None:
        target = path + (f"?{query}" if query else "")
        lines = [f"{self.command} {target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in end_to_end(self.headers.items(), self.headers)]
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length = int(self.headers.get("Content-Length") or 0) if not chunked else 0
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        elif length:
            lines.append(f"Content-Length: {length}")
        # One upstream connection per request: pinned and judged afresh each time, never reused for another host.
        lines.append("Connection: close")
        upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if chunked:
            copy_chunked(self.rfile, upstream)
        elif length:
            copy_exactly(self.rfile, upstream, length)

    def relay_response(self, response: http.client.HTTPResponse) -> None:
        location = response.getheader("Location")
        if 300 <= response.status < 400 and location:
            scheme = urlsplit(urljoin(self.path, location.strip())).scheme.lower()
            if scheme not in NETWORK_SCHEMES:
                self.close_connection = True
                refusal = Refusal(f"a redirect to {url_of(scheme)}", "only http(s) targets may be reached")
                self.block(refusal, "")
                return
        self.send_response_only(response.status, response.reason)
        for name, value in end_to_end(response.getheaders(), response.msg):
            self.send_header(name, value)
        if self.command == "HEAD" or response.status in (204, 304) or response.status < 200:
            if response.getheader("Content-Length") is not None:
                self.send_header("Content-Length", response.getheader("Content-Length") or "0")
            self.end_headers()
            return
        if response.length is not None:
            self.send_header("Content-Length", str(response.length))
            self.end_headers()
            while data := response.read1(CHUNK):
                self.wfile.write(data)
            return
        if response.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while data := response.read1(CHUNK):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
            return
        # Neither length nor chunks: the body ends when the upstream closes, so must this connection.
        self.send_header("Connection", "close")
        self.end_headers()
        copy(response.read1, self.connection)


def end_to_end(headers: Iterable[tuple[str, str]], message) -> list[tuple[str, str]]:
    """The headers minus hop-by-hop ones, including those the Connection header names."""
    named = {token.strip().lower() for value in message.get_all("Connection") or () for token in value.split(",")}
    return [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP | named]


def copy(read: Callable[[int], bytes], sock: socket.socket) -> None:
    """Send everything read() yields to sock until EOF; then half-close sock so the other side sees the end."""
    try:
        while data := read(CHUNK):
            sock.sendall(data)
    except OSError:
        pass
    finally:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_WR)


def copy_exactly(source, sock: socket.socket, length: int) -> None:
    while length > 0:
        data = source.read1(min(CHUNK, length))
        if not data:
            raise ConnectionError("the request body ended early")
        sock.sendall(data)
        length -= len(data)


def copy_chunked(source, sock: socket.socket) -> None:
    """Relay a chunked body as it is, up to and including its last chunk and trailers."""
    while True:
        size_line = source.readline(1024)
        sock.sendall(size_line)
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            break
        copy_exactly(source, sock, size + 2)  # the chunk and its CRLF
    while (line := source.readline(8192)) not in (b"\r\n", b"\n", b""):
        sock.sendall(line)
    sock.sendall(b"\r\n")


def show(host: str, port: int) -> str:
    """host:port as in a URL ([v6]:port)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
