"""TestFleet's shared package: importing it has no side effects."""

__version__ = "0.1.0"
