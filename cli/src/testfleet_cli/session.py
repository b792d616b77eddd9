"""What every command shares: the connection options, the gateway they make, and turning errors into exit 2."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from testfleet_cli import config
from testfleet_cli.config import ConfigError
from testfleet_cli.gateway import ApiError, AuthError, Gateway, Unreachable
from testfleet_cli.verdict import ExitCode

F = TypeVar("F", bound=Callable[..., Any])
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
    """A gateway whose URL and token were just proven (GET /api/v1/<service>/me); exit 2 if they are not."""
    try:
        gateway = Gateway(config.resolve(url, token))
        gateway.outage_s = FIRST_CONTACT_OUTAGE_S  # retried quietly: a wrong URL is one line, below
        gateway.get(f"/api/v1/{service}/me")
        gateway.on_retry = lambda text: click.echo(f"! {text}", err=True)
    except ConfigError as error:
        fail(str(error))
    except AuthError as error:
        fail(f"the gateway refused the token: {error.message} (a wrong, expired or revoked token)")
    except Unreachable as error:
        fail(str(error))
    except ApiError as error:
        fail(f"{gateway.url} does not look like a TestFleet gateway: {error}")
    return gateway


def api_errors_exit_2(command: F) -> F:
    """A request the platform refused before anything ran (a 4xx on an import or a start) is exit 2, said once."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except AuthError as error:
            fail(f"the gateway refused the token: {error.message}")
        except ApiError as error:
            fail(str(error))
        except Unreachable as error:
            fail(str(error))

    return wrapper  # type: ignore[return-value]


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
