"""The policy suites' test sites: an allowed site whose pages reach for what they must not, and servers that count."""

from __future__ import annotations

import json
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from shared.testing import require_executable

PASSWD = "root:x:0:0"  # the first line of /etc/passwd: never in anything a run shows
FORBIDDEN = "FORBIDDEN-CONTENT"  # what the servers the policy refuses would answer
BLOCKED = "Blocked by WEB_ALLOWED_HOSTS"
OPENSSL = "openssl"

# Pages of the allowed site; {url} is the target given in ?url=, as a JavaScript string.
SCRIPTS = {
    "/go": "<script>location.href = {url}</script>",
    "/frame": "<iframe id=f src={url}></iframe>",
    "/open": "<script>window.open({url})</script>",
    "/click-open": "<button id=b onclick='window.open({url})'>open</button>",
    "/fetch": "<div id=out>waiting</div><script>fetch({url}).then(r => r.text()).then(t => out.textContent = t,"
    " e => out.textContent = 'failed')</script>",
    "/post": "<form id=f method=post action={url}><input name=q value=1></form><script>f.submit()</script>",
    "/socket": "<div id=out>waiting</div><script>var s = new WebSocket({url}); s.onmessage = e => "
    "out.textContent = e.data; s.onerror = () => out.textContent = 'failed'</script>",
    "/link": "<a id=a href={url}>go</a>",
    "/upload": "<input type=file id=f><input id=t><pre id=out></pre><script>f.onchange = () => "
    "f.files[0].text().then(t => out.textContent = t)</script>",
}
# /to-file redirects there: the URL the run opens names nothing of the target.
FILE_TARGET = "file:///etc/passwd"


class SiteHandler(BaseHTTPRequestHandler):
    """The allowed site: /redirect?url=X answers 302 to X, /to-file 302 to FILE_TARGET, SCRIPTS pages use ?url=."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        url = parse_qs(parts.query).get("url", [""])[0]
        if parts.path in ("/redirect", "/to-file"):
            self.send_response(302)
            self.send_header("Location", url if parts.path == "/redirect" else FILE_TARGET)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = SCRIPTS.get(parts.path, "<h1 id=title>ok</h1>").replace("{url}", json.dumps(url))
        data = f"<!doctype html><html><head><title>site</title></head><body>{body}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class Answering(socketserver.BaseRequestHandler):
    """A server the policy refuses: it would answer any connection with FORBIDDEN, and counts them."""

    def handle(self) -> None:
        self.server.connections += 1  # type: ignore[attr-defined]
        self.request.sendall(f"HTTP/1.0 200 OK\r\nContent-Length: {len(FORBIDDEN)}\r\n\r\n{FORBIDDEN}".encode())


def serve(server: Any) -> Any:
    """Serve on a daemon thread; the server counts its connections (Answering does)."""
    server.daemon_threads = True
    server.connections = 0
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def self_signed(directory: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1 (made by the openssl command)."""
    require_executable(OPENSSL)
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@dataclass
class Sites:
    """The running sites: the allowed one over http and https, a refused loopback one and a stand-in for Redis."""

    site: ThreadingHTTPServer
    https: ThreadingHTTPServer
    loopback: socketserver.ThreadingTCPServer  # on 127.0.0.2: loopback the policy does not name
    redis: socketserver.ThreadingTCPServer  # on an allowed address, but one of the platform's endpoints

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.site.server_address[1]}"

    @property
    def https_base(self) -> str:
        return f"https://127.0.0.1:{self.https.server_address[1]}"

    def ports(self) -> dict[str, int]:
        """Ports by name, for targets written as templates: {site}, {https}, {loopback}, {redis}."""
        return {name: getattr(self, name).server_address[1] for name in ("site", "https", "loopback", "redis")}

    def reached(self) -> int:
        """How many connections the servers the policy refuses accepted."""
        return self.loopback.connections + self.redis.connections  # type: ignore[attr-defined]


@contextmanager
def hostile_sites(directory: Path) -> Iterator[Sites]:
    """Start the sites (the certificate goes to directory); stop them all on exit, whatever happened."""
    started: list[socketserver.BaseServer] = []
    try:
        context = self_signed(directory)
        site = serve(ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler))
        started.append(site)
        https = ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler)
        https.socket = context.wrap_socket(https.socket, server_side=True)
        started.append(serve(https))
        loopback = serve(socketserver.ThreadingTCPServer(("127.0.0.2", 0), Answering))
        started.append(loopback)
        redis = serve(socketserver.ThreadingTCPServer(("127.0.0.1", 0), Answering))
        started.append(redis)
        yield Sites(site, https, loopback, redis)
    finally:
        for server in started:
            server.shutdown()
            server.server_close()


def page(path: str, url: str) -> str:
    """A page of the site that does what path says with url."""
    return f"{path}?url={quote(url, safe='')}"


def trusting(chrome_options):
    """chrome_options for a browser that takes the https site's self-signed certificate, in every window."""

    def options(*args, **kwargs):
        made = chrome_options(*args, **kwargs)
        made.accept_insecure_certs = True
        return made

    return options
