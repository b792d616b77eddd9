"""The CLI's end-to-end tests drive the installed `testfleet` against the whole platform, started as `make up`
starts it, and a site of pages for its browser tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Platform, acceptance_site, platform_with_own_redis

# cli_harness.py sits beside this file; --import-mode=importlib puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
from cli_harness import Cli


@pytest.fixture(scope="session")
def platform(tmp_path_factory) -> Iterator[Platform]:
    """One `make up` for the CLI's tests, with a Redis of its own."""
    with platform_with_own_redis(tmp_path_factory.mktemp("cli"), {"WEB_WORKER_CONCURRENCY": "2"}) as running:
        yield running


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Iterator[str]:
    """Pages for the browser tests (tests/harness.py: acceptance_site)."""
    with acceptance_site(tmp_path_factory.mktemp("site")) as url:
        yield url


@pytest.fixture()
def cli(platform, tmp_path) -> Cli:
    return Cli(platform, tmp_path)
