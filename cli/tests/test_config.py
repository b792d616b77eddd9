"""Configuration: flags and environment over the stored login; the stored token is the user's alone."""

import stat

import pytest

from testfleet_cli import config
from testfleet_cli.config import ConfigError


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def test_login_is_kept_readable_by_the_user_only(config_home):
    path = config.store("http://gw:8080", "secret-token")
    assert path.parent == config_home / "testfleet"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert config.resolve(None, None) == config.Config("http://gw:8080", "secret-token")


def test_a_looser_existing_file_is_tightened(config_home):
    path = config.store("http://gw:8080", "a")
    path.chmod(0o644)
    config.store("http://gw:8080", "b")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_flags_win_over_the_stored_login():
    config.store("http://stored:8080", "stored-token")
    assert config.resolve("http://flag:9090/", "flag-token") == config.Config("http://flag:9090", "flag-token")
    assert config.resolve(None, "flag-token").url == "http://stored:8080"


def test_the_token_is_never_in_the_config_repr():
    assert "secret" not in repr(config.Config("http://gw", "secret"))


@pytest.mark.parametrize(
    ("url", "token", "says"),
    [
        (None, "t", "no gateway URL"),
        ("http://gw", None, "no API token"),
        ("gw:8080", "t", "not a gateway URL"),
        ("ftp://gw", "t", "not a gateway URL"),
    ],
)
def test_missing_or_wrong_settings_are_named(url, token, says):
    with pytest.raises(ConfigError, match=says):
        config.resolve(url, token)
