"""The console service: create_app() builds accounts, API tokens and the web console."""

from __future__ import annotations

import hashlib
import hmac

import requests
from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from console_service.config import ConsoleSettings, get_settings
from console_service.login_throttle import LoginThrottle
from shared import paths
from shared.app_factory import create_service_app

csrf = CSRFProtect()


def create_app(settings: ConsoleSettings | None = None) -> Flask:
    """Build the console app; tests pass their own settings."""
    settings = settings or get_settings()
    from console_service import accounts, page_auth
    from console_service.pages import page_blueprints
    from console_service.views.api import bp as api_bp

    blueprints = [(paths.AUTH, api_bp)] + [("", bp) for bp in page_blueprints()]
    app = create_service_app(
        __name__, settings, tasks=None, blueprints=blueprints, api_prefix=paths.AUTH,
        session_user=page_auth.session_user,
    )  # fmt: skip
    register_extensions(app, settings)
    page_auth.init_page_auth(app)
    with app.app_context():
        accounts.ensure_first_admin(settings)
    return app


def register_extensions(app: Flask, settings: ConsoleSettings) -> None:
    """Cookie sessions, CSRF, the login throttle and the HTTP client the pages call the APIs with."""
    from console_service import page_auth

    # Behind the gateway: the client's address (login throttle) and scheme (Secure cookies) come from the headers
    # it sets itself (gateway/templates/default.conf.template); it passes the client's Host as it is, so no
    # X-Forwarded-Host is trusted (a client could send one through it).
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0)  # type: ignore[method-assign]
    app.config.update(
        # A key of its own, derived from AUTH_SECRET: a cookie's signature is never a valid token's.
        SECRET_KEY=hmac.new(settings.auth_secret.encode(), b"console-session", hashlib.sha256).hexdigest(),
        SESSION_COOKIE_NAME="testfleet_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=settings.session_ttl_s,
        # CSRF is checked for requests a cookie authenticates (pages.check_csrf), not for bearer tokens.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the login
    )
    app.session_interface = page_auth.SessionCookies(settings.console_secure_cookies)
    csrf.init_app(app)
    app.extensions["login_throttle"] = LoginThrottle(
        app.extensions["redis"], free_failures=settings.login_free_failures,
        max_delay_s=settings.login_max_delay_s, window_s=settings.login_failure_window_s,
    )  # fmt: skip
    app.extensions["http"] = requests.Session()
