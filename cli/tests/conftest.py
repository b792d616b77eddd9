"""The CLI's end-to-end tests drive the installed `testfleet` against the whole platform, started as `make up`
starts it, and a site of pages for its browser tests."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.testing import RedisServer
from tests.harness import Platform

# cli_harness.py sits beside this file; --import-mode=importlib puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
from cli_harness import Cli


@pytest.fixture(scope="session")
def platform(tmp_path_factory) -> Iterator[Platform]:
    """One `make up` for the CLI's tests, with a Redis of its own."""
    redis = RedisServer(tmp_path_factory.mktemp("cli-redis"))
    redis.start()
    running = Platform(tmp_path_factory.mktemp("cli-platform") / "var", redis.url, {"WEB_WORKER_CONCURRENCY": "2"})
    try:
        running.start()
        yield running
    finally:
        left = running.stop()
        redis.stop()
    assert not left, f"processes left after Ctrl-C: {left}"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Iterator[str]:
    """Pages for the browser tests: / has the title 'acceptance' and a paragraph #p."""
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text('<html><head><title>acceptance</title></head><body><p id="p">hello</p>'
                                     '<script>console.log("page says hi")</script></body></html>')  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def cli(platform, tmp_path) -> Cli:
    return Cli(platform, tmp_path)
