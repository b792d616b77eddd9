"""/login and /logout."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, request

from console_service import accounts, login_sessions
from console_service.pages.common import page
from shared.auth import public
from shared.db import current_session
from shared.errors import TooManyRequests

bp = Blueprint("login", __name__)


@bp.get("/login")
@public
def form():
    """The login form."""
    return page("login.html", next=_safe_next(request.args.get("next")), error=None)


@bp.post("/login")
@public
def submit():
    """Check the name and password (slowed down after failures); on success, a fresh login cookie."""
    settings = current_app.extensions["settings"]
    throttle = current_app.extensions["login_throttle"]
    name, password = request.form.get("username", "").strip(), request.form.get("password", "")
    next_url = _safe_next(request.form.get("next"))
    address = request.remote_addr or "unknown"
    try:
        throttle.check(name, address)
    except TooManyRequests as exc:
        refused = page("login.html", next=next_url, error=exc.message, username=name)
        return refused, 429, {"Retry-After": str(exc.retry_after_s)}
    session = current_session()
    accounts.ensure_first_admin(settings)
    account = accounts.authenticate(session=session, user=name, password=password) if name and password else None
    if account is None:
        throttle.failed(name, address)
        return page("login.html", next=next_url, error="Wrong user name or password.", username=name), 401
    throttle.succeeded(name)
    login_sessions.start(session=session, account=account, ttl_s=settings.session_ttl_s)
    return redirect(next_url)


@bp.post("/logout")
@public
def logout():
    """End this login."""
    login_sessions.end(session=current_session())
    return redirect("/login")


def _safe_next(target: str | None) -> str:
    # Only a path on this site: /login?next=https://evil.example must not send a fresh login elsewhere.
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target
