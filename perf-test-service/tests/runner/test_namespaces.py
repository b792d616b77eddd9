"""Which namespaces user code gets: the least privileged unshare that works, probed once; none, said once."""

from __future__ import annotations

import logging
import os
import subprocess

import pytest

from perf_test_service.runner import namespaces

NOBODY = 65534


@pytest.fixture()
def fresh_probe():
    """Probe again in this test, and again after it: no answer cached under a patched UNSHARE outlives it."""
    namespaces._working_prefix.cache_clear()
    yield
    namespaces._working_prefix.cache_clear()


def test_without_unshare_there_are_no_namespaces_and_one_warning(fresh_probe, monkeypatch, caplog):
    monkeypatch.setattr(namespaces, "UNSHARE", "/nonexistent/unshare")
    with caplog.at_level(logging.WARNING, logger=namespaces.__name__):
        assert namespaces.prefix() == [] and namespaces.prefix() == []
    assert len(caplog.records) == 1 and "cannot create PID namespaces" in caplog.records[0].getMessage()


def test_the_least_privileged_unshare_that_works_is_chosen(fresh_probe):
    """Root needs no user namespace; an ordinary user maps only itself."""
    expected_users = [] if os.geteuid() == 0 else ["--user", "--map-current-user"]
    held = namespaces.prefix(network=True)
    assert held[1:-1] == [*expected_users, "--pid", "--fork", "--kill-child", "--mount-proc", "--net"]


@pytest.mark.timeout(30)
def test_an_ordinary_user_maps_only_itself():
    """As nobody: no PID namespace without a user namespace; --map-current-user (no capability after exec) works."""
    ordinary_user = {"user": NOBODY, "group": NOBODY} if os.geteuid() == 0 else {}
    plain = [namespaces.UNSHARE, "--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--"]
    own = [namespaces.UNSHARE, "--user", "--map-current-user", *plain[1:]]
    capabilities = "grep CapEff /proc/self/status; id -u"

    def run(command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, timeout=10, cwd="/", **ordinary_user)

    if ordinary_user:  # root may make a PID namespace without a user namespace; nobody may not
        assert run([*plain, namespaces.TRUE]).returncode != 0
    inside = run([*own, "/bin/sh", "-c", capabilities])
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.split() == ["CapEff:", "0000000000000000", str(ordinary_user.get("user", os.geteuid()))]
