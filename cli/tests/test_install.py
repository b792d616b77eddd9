"""`pip install ./cli` on its own: the CLI works and no server package comes with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[1]
SERVER_PACKAGES = {"flask", "celery", "sqlalchemy", "alembic", "testfleet-shared", "locust", "selenium", "gunicorn"}

pytestmark = pytest.mark.timeout(600)


def test_the_cli_installs_alone_without_server_packages(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(CLI)]
    installed = subprocess.run(pip, capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = subprocess.run([str(venv / "bin/python"), "-m", "pip", "list", "--format", "freeze"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    names = {line.split("==")[0].lower() for line in listed.splitlines()}
    assert "testfleet-cli" in names and not names & SERVER_PACKAGES, names
    shown = subprocess.run([str(venv / "bin/testfleet"), "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and "Exit codes" in shown.stdout
    version = subprocess.run([str(venv / "bin/testfleet"), "version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("testfleet-cli ")
