"""Test code runs as its parent's user: a sealed parent's environment is not readable in /proc, an unsealed one is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import shared.child_env

pytestmark = pytest.mark.timeout(60)
NOBODY = 65534
# The parent: a process of an ordinary user holding a secret, which starts "test code" reading its /proc entry.
PARENT = """
import os, subprocess, sys
from shared.child_env import seal_process
if sys.argv[1] == "sealed":
    assert seal_process()
child = subprocess.run([sys.executable, "-c", "import os; print(open(f'/proc/{os.getppid()}/environ').read())"],
                       capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
print("LEAKED" if "AUTH_SECRET=parent-secret" in child.stdout else "DENIED:" + child.stderr.strip()[-60:])
"""


@pytest.mark.parametrize("mode", ["unsealed", "sealed"])
def test_a_child_cannot_read_a_sealed_parents_environment(mode):
    # The module as shipped, where the other user can read it (the venv may not be), run by the system Python.
    tmp_path = Path(tempfile.mkdtemp(prefix="sealed-"))
    package = tmp_path / "shared"
    package.mkdir()
    (package / "__init__.py").touch()
    shutil.copy(shared.child_env.__file__, package / "child_env.py")
    for path in (tmp_path, package, package / "__init__.py", package / "child_env.py"):
        path.chmod(0o755)
    python = shutil.which("python3", path="/usr/bin:/usr/local/bin") or sys.executable
    env = {"PATH": "/usr/bin:/bin", "AUTH_SECRET": "parent-secret", "PYTHONPATH": str(tmp_path)}
    # Root reads every /proc entry (CAP_SYS_PTRACE), sealed or not: as root, run the parent as nobody; as an
    # ordinary user, the test's own user is the case to prove.
    ordinary_user = {"user": NOBODY, "group": NOBODY} if os.geteuid() == 0 else {}
    try:
        result = subprocess.run([python, "-c", PARENT, mode], env=env, capture_output=True, text=True,
                                timeout=30, cwd="/", **ordinary_user)  # fmt: skip
    finally:
        shutil.rmtree(tmp_path)
    assert result.returncode == 0, result.stderr
    if mode == "unsealed":  # the hole the seal closes: same user, readable
        assert result.stdout.strip() == "LEAKED"
    else:
        assert result.stdout.startswith("DENIED:") and "Permission denied" in result.stdout, result.stdout
