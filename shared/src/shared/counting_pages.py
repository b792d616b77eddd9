"""A web server for tests that counts what it serves: how often each path was fetched, seen from outside."""

from __future__ import annotations

import http.server
import threading
from collections import Counter
from collections.abc import Callable


class CountingPages(http.server.ThreadingHTTPServer):
    """Answers every GET on 127.0.0.1 with an HTML page titled title(path, n), n being how often that path has
    been served (1 the first time), and counts the hits per path. A thread serves it; call stop() when done.
    """

    daemon_threads = True

    def __init__(self, title: Callable[[str, int], str] = lambda _path, _n: "Hit"):
        super().__init__(("127.0.0.1", 0), _PageHandler)
        self.title = title
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class _PageHandler(http.server.BaseHTTPRequestHandler):
    server: CountingPages

    def do_GET(self):
        with self.server.lock:
            self.server.hits[self.path] += 1
            title = self.server.title(self.path, self.server.hits[self.path])
        body = f"<html><head><title>{title}</title></head><body><p id='p'>{title}</p></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass
