"""testfleet: the command line a CI pipeline runs against a TestFleet gateway."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("testfleet-cli")
except PackageNotFoundError:  # run from a source tree without being installed
    __version__ = "0.0.0"
