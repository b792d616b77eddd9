"""The environment of a process that runs test code (Chromium, chromedriver, Locust, a locustfile check).

Test code is hostile input: whatever is in its environment, a test can read (`/proc/self/environ`, a
locustfile's `os.environ`) and print into its results. So such a process starts from nothing and gets only
what a browser or a Python interpreter needs to run; never AUTH_SECRET, DATABASE_URL, REDIS_URL, Flower's
credentials or anything else the platform was started with.
"""

from __future__ import annotations

import ctypes
import os
import sys

_PR_SET_DUMPABLE = 4

# Names a child may inherit: where programs are, the locale and zone, the temp dir, and the CA bundle a
# re-signing proxy may require. Nothing here carries a secret.
INHERITED = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
)


def scrubbed_env(**extra: str) -> dict[str, str]:
    """A child's whole environment: the INHERITED names this process has, plus extra (which wins)."""
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.update(extra)
    return env


def seal_process() -> bool:
    """Make this process's /proc entries (environ, memory, fds) unreadable to processes of the same user.

    A scrubbed environment is not enough on its own: test code runs as the same user as its parent, and the
    parent's /proc/<pid>/environ (AUTH_SECRET, DATABASE_URL, ...) is readable by the same user unless the parent
    is not "dumpable". Forked children inherit the setting; an exec (Locust, Chromium) resets it, so test code
    itself stays ordinary. It does not bind root (CAP_SYS_PTRACE): see docs/security.md. Linux only.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
