"""Render the gateway for a local run: nginx.conf, default.conf and the Flower htpasswd.

Usage: python gateway/render.py <prefix-dir>
Reads the same variables as the container (see defaults below) from the environment.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def local_defaults(prefix: Path) -> dict[str, str]:
    """Values for a one-machine run; any of them can be overridden by the environment."""
    host = "127.0.0.1"
    return {
        "GATEWAY_PORT": "8080",
        "GATEWAY_MAX_BODY": "10m",
        # Per client address on /api/ (nginx limit_req). On one machine every client (the load test's 20 threads,
        # the fuzzers) shares 127.0.0.1, so the local default is high; compose and k8s set their own.
        "GATEWAY_RATE_LIMIT": "500r/s",
        "GATEWAY_RATE_BURST": "1000",
        "WEB_TEST_UPSTREAM": f"{host}:{os.environ.get('WEB_TEST_PORT', '5001')}",
        "PERF_TEST_UPSTREAM": f"{host}:{os.environ.get('PERF_TEST_PORT', '5002')}",
        "SCHEDULER_UPSTREAM": f"{host}:{os.environ.get('SCHEDULER_PORT', '5003')}",
        "CONSOLE_UPSTREAM": f"{host}:{os.environ.get('CONSOLE_PORT', '5004')}",
        "FLOWER_UPSTREAM": f"{host}:{os.environ.get('FLOWER_PORT', '5555')}",
        "FLOWER_HTPASSWD": str(prefix / "flower.htpasswd"),
        "GATEWAY_ACCESS_LOG": str(prefix / "access.log"),
        "GATEWAY_PREFIX": str(prefix),
        "NGINX_MIME_TYPES": "/etc/nginx/mime.types",
        # A root master would drop workers to `nobody`, who cannot read a private var dir:
        # locally the workers keep the user that runs `make up`.
        "GATEWAY_USER_DIRECTIVE": f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else "",
    }


def ssha(password: str) -> str:
    """nginx's salted SHA-1 htpasswd scheme: the password itself is never written under the var dir."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - the scheme nginx reads
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace ${NAME} like envsubst; nginx's own $vars (no braces) are left alone."""

    def repl(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"gateway template needs ${{{name}}}")
        return values[name]

    return VARIABLE.sub(repl, text)


def render(prefix: Path, env: dict[str, str] | None = None) -> Path:
    """Write the rendered config under prefix; return the path of nginx.conf."""
    env = dict(os.environ if env is None else env)
    prefix.mkdir(parents=True, exist_ok=True)
    values = local_defaults(prefix)
    values.update({k: v for k, v in env.items() if k in values})
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir(exist_ok=True)
    (prefix / "default.conf").write_text(substitute((HERE / "templates/default.conf.template").read_text(), values))
    conf = prefix / "nginx.conf"
    conf.write_text(substitute((HERE / "local/nginx.conf.template").read_text(), values))
    user, _, password = env.get("FLOWER_BASIC_AUTH", "admin:testfleet").partition(":")
    htpasswd = Path(values["FLOWER_HTPASSWD"])
    htpasswd.write_text(f"{user}:{ssha(password)}\n")
    htpasswd.chmod(0o600)
    return conf


if __name__ == "__main__":
    print(render(Path(sys.argv[1]).resolve()))
