"""`python -m testfleet_cli` is `testfleet`."""

from testfleet_cli.main import cli

cli()
