"""Where the gateway is and who we are: --url/--token, then TESTFLEET_URL/TESTFLEET_TOKEN, then `testfleet login`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

APP_NAME = "testfleet"


class ConfigError(Exception):
    """Nothing can be asked of the gateway: no URL, no token, or a URL that is not one (exit 2)."""


@dataclass(frozen=True)
class Config:
    url: str
    token: str

    def __repr__(self) -> str:  # a token is never printed, not even in a traceback
        return f"Config(url={self.url!r}, token=<hidden>)"


def config_file() -> Path:
    """The user's config file (XDG_CONFIG_HOME/testfleet/config.json on Linux), written only by `login`."""
    return Path(click.get_app_dir(APP_NAME)) / "config.json"


def stored() -> dict[str, str]:
    """What `testfleet login` stored, or {} (a missing or unreadable file is no login)."""
    try:
        data = json.loads(config_file().read_text())
    except (OSError, ValueError):
        return {}
    return {key: value for key, value in data.items() if key in ("url", "token") and isinstance(value, str)}


def store(url: str, token: str) -> Path:
    """Keep url and token for later commands, readable by this user only (0600, in a 0700 folder)."""
    path = config_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        os.fchmod(out.fileno(), 0o600)  # an older file may have had a looser mode
        json.dump({"url": url, "token": token}, out)
    return path


def checked_url(url: str) -> str:
    """The gateway's base URL without a trailing slash; ConfigError if it is not http(s)://host[:port][/path]."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"not a gateway URL: {url!r} (expected e.g. http://127.0.0.1:8080)")
    return url.strip().rstrip("/")


def resolve(url: str | None, token: str | None) -> Config:
    """Flags (click fills them from TESTFLEET_URL/TESTFLEET_TOKEN too) win over the stored login."""
    saved = stored()
    url = url or saved.get("url")
    token = token or saved.get("token")
    if not url:
        raise ConfigError("no gateway URL: set TESTFLEET_URL, pass --url, or run `testfleet login`")
    if not token:
        raise ConfigError("no API token: set TESTFLEET_TOKEN, pass --token, or run `testfleet login`")
    return Config(checked_url(url), token.strip())
