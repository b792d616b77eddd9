"""The parts of create_app every service shares: logging, auth, errors, db, health."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from redis import Redis
from sqlalchemy.orm import sessionmaker

from shared import __version__
from shared.auth import User, current_user, init_auth
from shared.celery_factory import make_celery
from shared.config import BaseServiceSettings
from shared.db import Database, IdConverter
from shared.errors import register_error_handlers
from shared.health import Check, health_blueprint, redis_check, worker_check
from shared.json_input import StrictJSONProvider
from shared.logging import configure_logging, init_request_logging
from shared.names import SERVICE_QUEUE
from shared.openapi import openapi_blueprint
from shared.paths import service_prefix
from shared.redis_client import redis_from_url
from shared.token_revocation import RevocationList


def create_service_app(
    import_name: str,
    settings: BaseServiceSettings,
    *,
    tasks: str | None,
    blueprints: list[tuple[str, Blueprint]],
    extra_checks: dict[str, Callable[[], None]] | None = None,
    api_prefix: str | None = None,
    session_user: Callable[[], User | None] | None = None,
) -> Flask:
    """Return a Flask app wired with the platform's extensions, its Celery app (with the tasks module; None for
    a service without a queue) and its blueprints, each under its URL prefix, for one service.

    api_prefix is where /health, /ready, /me and the OpenAPI document live (default /api/v1/<service>);
    session_user, when given, names the caller of a request that carries no bearer token (a login cookie).
    """
    service = settings.service_name
    configure_logging(settings.log_level)
    app = Flask(import_name)
    app.url_map.converters["default"] = IdConverter  # every <name> in a route is an id (shared/db.py)
    app.json = StrictJSONProvider(app)  # NaN and Infinity are not JSON, in a body or a response
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    app.extensions["settings"] = settings
    # One client (and connection pool) per process, not one per request.
    app.extensions["redis"] = redis_from_url(settings.redis_url)
    db = Database(settings.sqlalchemy_url)
    db.init_app(app)
    init_request_logging(app)
    init_auth(app, settings.auth_secret, RevocationList(app.extensions["redis"]), session_user=session_user)
    register_error_handlers(app)

    timeout = settings.ready_check_timeout_s
    checks: dict[str, Check] = {"database": db.ping, "redis": redis_check(settings.redis_url, timeout)}
    if tasks is not None:
        checks["worker"] = worker_check(settings.redis_url, SERVICE_QUEUE[service], timeout)
    checks.update(extra_checks or {})
    prefix = api_prefix or service_prefix(service)
    app.register_blueprint(health_blueprint(service, checks, timeout), url_prefix=prefix)
    app.register_blueprint(identity_blueprint(), url_prefix=prefix)
    app.register_blueprint(openapi_blueprint(f"TestFleet {service} API", __version__), url_prefix=prefix)
    if tasks is not None:
        make_celery(service, settings, include=[tasks], flask_app=app)
    for url_prefix, blueprint in blueprints:
        app.register_blueprint(blueprint, url_prefix=url_prefix)
    return app


def identity_blueprint() -> Blueprint:
    """Route /me: who the bearer token says the caller is."""
    bp = Blueprint("identity", __name__)

    @bp.get("/me")
    def me():
        """The caller's user id and role, from the token."""
        user = current_user()
        return jsonify({"user": user.id, "role": user.role.name})

    return bp


@dataclass(frozen=True)
class Resources:
    """What a request or a task of the current app works with."""

    settings: Any  # the service's settings (a BaseServiceSettings subclass)
    sessions: sessionmaker
    redis: Redis
    celery: Any


def resources() -> Resources:
    """The current Flask app's settings, session factory, Redis client and Celery app."""
    ext = current_app.extensions
    return Resources(ext["settings"], ext["db"].session_factory, ext["redis"], ext.get("celery"))
