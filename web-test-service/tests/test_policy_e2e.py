"""The web target policy end to end: runs through the API and a real worker, and what their browsers may reach."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

import pytest

from shared.testing import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
API = "/api/v1/web-test"
PASSWD = "root:x:0:0"  # the first line of /etc/passwd
FORBIDDEN = "FORBIDDEN-CONTENT"  # what a server the policy refuses would answer


class Pages(BaseHTTPRequestHandler):
    """An allowed site whose pages try to reach what they must not: ?to= names the target."""

    BODIES = {
        "/frame": "<iframe src={to}></iframe>",
        "/fetch": "<div id=out>waiting</div><script>fetch({to}).then(r => r.text())"
        ".then(t => out.textContent = t, e => out.textContent = 'failed')</script>",
        "/go": "<script>location.href = {to}</script>",
        "/popup": "<script>window.open({to})</script>",
        "/post": "<form id=f method=post action={to}><input name=q value=1></form><script>f.submit()</script>",
    }

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        to = unquote(query.partition("to=")[2])
        if path == "/redirect":
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.BODIES.get(path, "<h1 id=title>ok</h1>").format(to=json.dumps(to))
        data = f"<!doctype html><html><head><title>site</title></head><body>{body}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class Answering(socketserver.BaseRequestHandler):
    """Would answer FORBIDDEN to anyone who reached it; counts who did."""

    def handle(self) -> None:
        self.server.reached += 1  # type: ignore[attr-defined]
        self.request.sendall(f"HTTP/1.0 200 OK\r\nContent-Length: {len(FORBIDDEN)}\r\n\r\n{FORBIDDEN}".encode())


@pytest.fixture()
def sites() -> Iterator[dict]:
    pages = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    refused = socketserver.ThreadingTCPServer(("127.0.0.2", 0), Answering)  # loopback the policy does not name
    refused.reached = 0  # type: ignore[attr-defined]
    for server in (pages, refused):
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield {"base": f"http://127.0.0.1:{pages.server_address[1]}", "refused": refused}
    pages.shutdown()
    refused.shutdown()


def create(client, headers, base_url, commands, name="policy"):
    body = {"name": name, "base_url": base_url, "commands": [
        {"command": c, "target": t, "value": v} for c, t, v in commands]}  # fmt: skip
    resp = client.post(f"{API}/scripts", json=body, headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def run_to_end(client, headers, script_id, timeout=90):
    assert client.post(f"{API}/scripts/{script_id}/run", json={}, headers=headers).status_code == 202

    def finished():
        status = client.get(f"{API}/scripts/{script_id}/status", headers=headers).json
        return status if status["state"] not in ("queued", "running") else None

    return wait_until(finished, timeout, 0.2, what="the run to finish")


def test_blocked_runs_end_in_error_and_show_nothing_of_the_target(client, auth_header, web_worker, sites, settings):
    alice = auth_header("tester", "alice")
    refused = f"http://127.0.0.2:{sites['refused'].server_address[1]}/"
    redis = urlsplit(settings.redis_url)
    cases = {
        "redirect to a file": ("/redirect", "file:///etc/passwd", "a redirect to a file: URL"),
        "frame of a file": ("/frame", "file:///etc/passwd", "a file: URL"),
        "fetch of the metadata address": ("/fetch", "http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        "fetch of loopback not named": ("/fetch", refused, "127.0.0.2"),
        "navigation to the platform's Redis": (
            "/go",
            f"http://{redis.hostname}:{redis.port}/",
            "platform's own endpoints",
        ),
        "window.open of a refused host": ("/popup", refused, "127.0.0.2"),
        "form post to a refused host": ("/post", refused, "127.0.0.2"),
    }
    for name, (path, target, naming) in cases.items():
        steps = [("open", f"{path}?to={quote(target, safe='')}", ""), ("pause", "500", ""),
                 ("assertText", "css=body", "root")]  # fmt: skip
        status = run_to_end(client, alice, create(client, alice, sites["base"], steps, name=name))
        assert status["state"] == "error", (name, status)
        assert status["error"]["code"] == "target_blocked", (name, status["error"])
        message = status["error"]["message"]
        assert message.startswith("Blocked by WEB_ALLOWED_HOSTS") and naming in message, (name, message)
        run = client.get(f"{API}/runs/{status['run_id']}", headers=alice)
        junit = client.get(f"{API}/runs/{status['run_id']}/junit.xml", headers=alice)
        assert "WEB_ALLOWED_HOSTS" in junit.get_data(as_text=True)
        for shown in (json.dumps(status), run.get_data(as_text=True), junit.get_data(as_text=True)):
            assert PASSWD not in shown and FORBIDDEN not in shown, name
    log = web_worker.log.read_text()
    assert "Blocked by WEB_ALLOWED_HOSTS" in log  # each refusal is in the worker's log ...
    assert PASSWD not in log and FORBIDDEN not in log  # ... and nothing of what it refused
    assert sites["refused"].reached == 0
