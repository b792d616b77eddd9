"""A child that runs test code inherits only the harmless names."""

from __future__ import annotations

from shared.child_env import INHERITED, scrubbed_env


def test_only_inherited_names_and_extras_pass(monkeypatch):
    monkeypatch.setenv("AUTH_SECRET", "s3cret-s3cret-s3cret-s3cret-s3cret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db/test")
    monkeypatch.setenv("REDIS_URL", "redis://:pw@127.0.0.1:6379/0")
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "admin:pw")
    monkeypatch.setenv("PATH", "/usr/bin")
    env = scrubbed_env(HOME="/tmp/profile")
    assert env["PATH"] == "/usr/bin"
    assert env["HOME"] == "/tmp/profile"
    assert set(env) <= {*INHERITED, "HOME"}
    assert not any("pw" in value or "s3cret" in value for value in env.values())
