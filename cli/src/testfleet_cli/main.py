"""`testfleet`: the command groups, `login`, `version` and shell completion."""

from __future__ import annotations

import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

import click
from click.shell_completion import get_completion_class

from testfleet_cli import __version__, config
from testfleet_cli.commands.perf import perf
from testfleet_cli.commands.runs import runs
from testfleet_cli.commands.schedules import schedules
from testfleet_cli.commands.web import web
from testfleet_cli.config import ConfigError
from testfleet_cli.gateway import ApiError, AuthError, Unreachable
from testfleet_cli.session import connect, fail
from testfleet_cli.verdict import HELP, ExitCode


class Testfleet(click.Group):
    """The root command, where every error becomes its exit code. Click alone would make a Ctrl-C outside a wait
    exit 1 ("Aborted!"); here it is 130."""

    def main(self, args: Sequence[str] | None = None, **extra: Any) -> NoReturn:  # type: ignore[override]
        # A job a shell script started in the background inherits SIGINT ignored; a CI cancel must still stop it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            returned = super().main(args, standalone_mode=False, **extra)
        except click.Abort:  # a Ctrl-C before anything was waited for (a wait handles its own, see watch.py)
            click.echo("testfleet: interrupted", err=True)
            sys.exit(int(ExitCode.INTERRUPTED))
        except click.ClickException as error:
            error.show()
            sys.exit(ExitCode.USAGE if isinstance(error, click.UsageError) else error.exit_code)
        # Nothing could be asked, or the platform refused what was (an import, a start): exit 2, said once.
        except ConfigError as error:
            fail(str(error))
        except AuthError as error:
            fail(f"the gateway refused the token: {error.message} (a wrong, expired or revoked token)")
        except (ApiError, Unreachable) as error:
            fail(str(error))
        except Exception:  # a bug of ours must not pass for a failed test (1): the verdict is unknown
            traceback.print_exc()
            click.echo("testfleet: internal error (above); the runs' verdict is unknown", err=True)
            sys.exit(int(ExitCode.ERROR))
        sys.exit(returned if isinstance(returned, int) else 0)


@click.group(cls=Testfleet, epilog=HELP,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})  # fmt: skip
def cli() -> None:
    """Run TestFleet's browser and load tests from a CI pipeline.

    \b
    Configure with TESTFLEET_URL and TESTFLEET_TOKEN (or `testfleet login`), then e.g.:
      testfleet web run --side app.side --base-url http://127.0.0.1:3000 --junit junit.xml
      testfleet perf run SCENARIO_ID --users 20 --run-time 1m
    """


@cli.command()
@click.option("--url", required=True, metavar="URL", help="The gateway, e.g. http://127.0.0.1:8080.")
@click.option("--token", required=True, metavar="TOKEN", help="An API token.")
def login(url: str, token: str) -> None:
    """Check URL and TOKEN against the gateway and keep them for later commands (mode 0600).

    \b
    Example:
      testfleet login --url http://127.0.0.1:8080 --token "$(make -s token USER=ci ROLE=tester)"
    """
    gateway = connect(url, token)
    me = gateway.identity
    path = config.store(gateway.url, token)
    click.echo(f"logged in to {gateway.url} as {me.get('user')} ({me.get('role')}); kept in {path}")


@cli.command()
def version() -> None:
    """Print the CLI's version.

    \b
    Example:
      testfleet version
    """
    click.echo(f"testfleet-cli {__version__}")


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    Example (bash):
      eval "$(testfleet completion bash)"
    """
    complete = get_completion_class(shell)
    if complete is None:
        fail(f"no completion for {shell}")
    click.echo(complete(cli, {}, "testfleet", "_TESTFLEET_COMPLETE").source())


cli.add_command(web)
cli.add_command(perf)
cli.add_command(runs)
cli.add_command(schedules)
