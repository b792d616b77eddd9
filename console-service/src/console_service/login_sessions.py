"""Console logins: a random key in the signed session cookie, its hash in the database."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import flask
from sqlalchemy import delete
from sqlalchemy.orm import Session

from console_service.models import Account, LoginSession
from shared.db import utcnow

COOKIE_FIELD = "login"


def start(*, session: Session, account: Account, ttl_s: int) -> None:
    """Log account in: a fresh cookie session (no CSRF token or key of a previous login survives)."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))  # logins nobody can use any more
    expires_at = now + timedelta(seconds=ttl_s)
    session.add(LoginSession(key_hash=_hash(key), account_id=account.id, expires_at=expires_at))
    session.commit()
    flask.session.clear()
    flask.session.permanent = True
    flask.session[COOKIE_FIELD] = key


def current(*, session: Session) -> Account | None:
    """The enabled account this request's cookie is logged in as, if any."""
    key = flask.session.get(COOKIE_FIELD)
    if not isinstance(key, str):
        return None
    login = session.get(LoginSession, _hash(key))
    if login is None or login.expires_at <= utcnow():
        return None
    account = session.get(Account, login.account_id)
    return account if account is not None and not account.disabled else None


def end(*, session: Session) -> None:
    """Log this cookie out, here and in the database."""
    key = flask.session.get(COOKIE_FIELD)
    if isinstance(key, str):
        session.execute(delete(LoginSession).where(LoginSession.key_hash == _hash(key)))
        session.commit()
    flask.session.clear()


def end_all(*, session: Session, account_id: str) -> None:
    """End every login of an account (the caller commits)."""
    session.execute(delete(LoginSession).where(LoginSession.account_id == account_id))


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
