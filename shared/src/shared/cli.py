"""`python -m shared token|migrate|redis-answers`: the commands `make token` and `make up` (scripts/up.sh) use."""

from __future__ import annotations

import argparse
import sys
import time

from shared.auth import Role, encode_token
from shared.config import BaseServiceSettings, tokenless


def _token(args: argparse.Namespace) -> int:
    settings = BaseServiceSettings()
    ttl = args.ttl or settings.token_ttl_s
    print(encode_token(settings.auth_secret, args.user, args.role, ttl))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    import importlib

    from shared.migrations import upgrade

    config_module = importlib.import_module(f"{args.package}.config")
    # Migrations neither sign nor verify tokens, so they run without AUTH_SECRET (deploy/ gives them none).
    settings = tokenless(settings_class_of(config_module))()
    upgrade(args.package, settings.sqlalchemy_url)
    print(f"{args.package}: database at head ({settings.sqlalchemy_url.split('@')[-1]})", file=sys.stderr)
    return 0


def settings_class_of(config_module: object) -> type[BaseServiceSettings]:
    """The settings class a service's config module defines (each defines exactly one)."""
    defined = [
        value
        for value in vars(config_module).values()
        if isinstance(value, type)
        and issubclass(value, BaseServiceSettings)
        and value.__module__ == getattr(config_module, "__name__", None)
    ]
    if len(defined) != 1:
        raise LookupError(f"{config_module!r} defines {len(defined)} settings classes, not 1")
    return defined[0]


def _redis_answers(args: argparse.Namespace) -> int:
    """Exit 0 if Redis answers PING at REDIS_URL within --wait seconds."""
    from shared.redis_client import redis_from_url

    client = redis_from_url(BaseServiceSettings().redis_url, timeout_s=1.0)
    deadline = time.monotonic() + args.wait
    while True:
        try:
            client.ping()
            return 0
        except Exception:
            if time.monotonic() >= deadline:
                return 1
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared")
    sub = parser.add_subparsers(dest="command", required=True)
    tok = sub.add_parser("token", help="print a bearer token")
    tok.add_argument("--user", required=True)
    tok.add_argument("--role", required=True, choices=[r.name for r in Role])
    tok.add_argument("--ttl", type=int, default=0, help="seconds (default TOKEN_TTL_S)")
    tok.set_defaults(func=_token)
    mig = sub.add_parser("migrate", help="upgrade a service's database to head")
    mig.add_argument("package", help="e.g. web_test_service")
    mig.set_defaults(func=_migrate)
    red = sub.add_parser("redis-answers", help="exit 0 if Redis answers at REDIS_URL")
    red.add_argument("--wait", type=float, default=0.0)
    red.set_defaults(func=_redis_answers)
    args = parser.parse_args(argv)
    return args.func(args)
