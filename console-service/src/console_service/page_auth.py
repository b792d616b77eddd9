"""How a browser is let in: the login cookie, CSRF on what a cookie authenticates, and errors as pages."""

from __future__ import annotations

import json

from flask import Flask, Response, g, redirect, render_template, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError

from console_service import login_sessions
from console_service.platform_api import ApiCallFailed
from shared import paths
from shared.auth import Role, User
from shared.db import current_session
from shared.errors import error_response

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request came over HTTPS (or always, if configured)."""

    def __init__(self, always_secure: bool):
        self.always_secure = always_secure

    def get_cookie_secure(self, app: Flask) -> bool:  # noqa: ARG002 (Flask's signature)
        return self.always_secure or request.is_secure


def session_user() -> User | None:
    """The user the login cookie names (shared.auth calls this for requests without a bearer token)."""
    account = login_sessions.current(session=current_session())
    return None if account is None else User(id=account.id, role=Role[account.role])


def init_page_auth(app: Flask) -> None:
    """CSRF for cookie requests; on a page, an error is a readable page and a logged-out browser goes to /login."""
    from console_service import csrf

    @app.before_request
    def check_csrf():
        # A browser never sends a bearer token on its own: only cookie (or anonymous) requests can be forged.
        if request.method in UNSAFE_METHODS and "Authorization" not in request.headers:
            csrf.protect()

    @app.errorhandler(ApiCallFailed)
    def api_call_failed(exc: ApiCallFailed):
        # A service refusing the console's own short-lived token is the console's fault, not a reason to log in.
        status = 502 if exc.status == 401 else exc.status
        return error_response(status, exc.code, exc.message, exc.details)

    @app.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError):
        return error_response(400, "csrf_failed", f"{exc.description} Reload the page and try again.")

    @app.after_request
    def errors_as_pages(response: Response) -> Response:
        # Every error is first the contract's JSON (shared/src/shared/errors.py); a page shows its message.
        if response.status_code < 400 or request.path.startswith(paths.API_V1 + "/") or not response.is_json:
            return response
        if response.status_code == 401 and not is_fragment():
            return redirect(url_for("login.form", next=request.full_path.rstrip("?")))  # type: ignore[return-value]
        try:
            error = json.loads(response.get_data())["error"]
        except (ValueError, KeyError, TypeError):
            return response
        template = "error_fragment.html" if is_fragment() else "error.html"
        page = render_template(template, user=g.get("user"), status=response.status_code, code=error["code"],
                               message=error["message"])  # fmt: skip
        headers = {k: v for k, v in response.headers.items() if k == "Retry-After"}
        return Response(page, response.status_code, headers, mimetype="text/html")


def is_fragment() -> bool:
    """Whether htmx asked for a part of a page."""
    return request.headers.get("HX-Request") == "true"
