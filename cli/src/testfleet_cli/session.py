"""What every command shares: the connection options, the gateway they make, ids, and saying a problem once."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from testfleet_cli import config
from testfleet_cli.config import ConfigError
from testfleet_cli.gateway import ApiError, AuthError, Gateway
from testfleet_cli.verdict import ExitCode

F = TypeVar("F", bound=Callable[..., Any])
# The ids the server accepts in a path (its shared/src/shared/db.py ID_PATTERN; the CLI installs without it).
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
FIRST_CONTACT_OUTAGE_S = 5.0  # a wrong URL is said at once, not after the long retries of a wait


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    """One clear line on stderr, then the exit code."""
    click.echo(f"testfleet: {message}", err=True)
    sys.exit(int(code))


def connection_options(command: F) -> F:
    """--url and --token (from TESTFLEET_URL / TESTFLEET_TOKEN too), on every command that talks to the gateway."""
    command = click.option("--token", envvar="TESTFLEET_TOKEN", metavar="TOKEN", show_envvar=True,
                           help="API token (default: the one `testfleet login` stored).")(command)  # fmt: skip
    return click.option("--url", envvar="TESTFLEET_URL", metavar="URL", show_envvar=True,
                        help="The gateway, e.g. http://127.0.0.1:8080 (default: the one `testfleet login` stored).",
                        )(command)  # fmt: skip


def connect(url: str | None, token: str | None, service: str = "web-test") -> Gateway:
    """A gateway whose URL and token were just proven (GET /api/v1/<service>/me). What is wrong with them is
    raised (ConfigError, AuthError, Unreachable) and said as exit 2 by the root command (main.py)."""
    gateway = Gateway(config.resolve(url, token))
    gateway.outage_s = FIRST_CONTACT_OUTAGE_S  # retried quietly: a wrong URL is one line
    try:
        gateway.identity = gateway.get(f"/api/v1/{service}/me")
    except AuthError:
        raise
    except ApiError as error:
        raise ConfigError(f"{gateway.url} does not look like a TestFleet gateway: {error}") from error
    gateway.on_retry = lambda text: click.echo(f"! {text}", err=True)
    return gateway


class Identifier(click.ParamType):
    """A run's, script's, project's, scenario's or schedule's id: what the platform accepts in a path, nothing
    that could step out of it (`../`)."""

    name = "id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not ID_PATTERN.fullmatch(text):
            self.fail(f"{text!r} is not an id (1-64 letters, digits, '-' and '_')", param, ctx)
        return text


ID = Identifier()
