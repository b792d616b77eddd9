"""JWT bearer auth: roles viewer < tester < admin, `sub` is the user id."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from functools import wraps
from typing import Any

import jwt
from flask import Flask, g, request
from sqlalchemy.orm import Session

from shared.errors import Forbidden, NotFound, Unauthorized
from shared.token_revocation import RevocationList

ALGORITHM = "HS256"


class Role(IntEnum):
    viewer = 1
    tester = 2
    admin = 3


@dataclass(frozen=True)
class User:
    id: str
    role: Role
    token_id: str | None = None  # the token's jti: API tokens have one (revocable), `make token` tokens none

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


def encode_token(secret: str, user_id: str, role: str, ttl_s: int = 12 * 3600, *, token_id: str | None = None) -> str:
    """Sign a token for user_id with role, with the id token_id (jti) if given; it expires after ttl_s seconds."""
    Role[role]  # raises KeyError for an unknown role
    if token_id is not None and (not isinstance(token_id, str) or not token_id):
        raise ValueError("token_id must be a non-empty string")
    now = int(time.time())
    payload: dict[str, Any] = {"sub": user_id, "role": role, "iat": now, "exp": now + ttl_s}
    if token_id is not None:
        payload["jti"] = token_id
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str) -> User:
    """Verify signature, expiry and claims; raise Unauthorized otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "role"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired") from None
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    sub, role = claims.get("sub"), claims.get("role")
    if not isinstance(sub, str) or not sub or not isinstance(role, str) or role not in Role.__members__:
        raise Unauthorized("token lacks a valid sub or role")
    token_id = claims.get("jti")
    if "jti" in claims and (not isinstance(token_id, str) or not token_id):
        raise Unauthorized("token has an invalid jti")
    return User(id=sub, role=Role[role], token_id=token_id)


def public(view):
    """Mark a view as reachable without a token (health, ready, openapi)."""
    view.is_public = True
    return view


def init_auth(
    app: Flask,
    secret: str,
    revocations: RevocationList | None = None,
    *,
    session_user: Callable[[], User | None] | None = None,
) -> None:
    """Require a valid bearer token on every endpoint not marked @public and, given revocations, unrevoked.

    With session_user (the console's login cookie), a request without an Authorization header is the user it
    returns.
    """

    @app.before_request
    def _authenticate():
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        if view is None or getattr(view, "is_public", False):
            return  # unknown routes fall through to the JSON 404/405
        header = request.headers.get("Authorization", "")
        if not header and session_user is not None:
            g.user = session_user()
            if g.user is None:
                raise Unauthorized("log in first")
            return
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing bearer token")
        user = decode_token(secret, token.strip())
        if revocations is not None and user.token_id is not None:
            revocations.check(user.token_id)  # tokens without an id (`make token`) cannot be revoked
        g.user = user

    app.config["AUTH_SECRET"] = secret


def current_user() -> User:
    """Return the authenticated user of this request."""
    user = g.get("user")
    if user is None:
        raise Unauthorized("missing bearer token")
    return user


def require_role(minimum: str):
    """Decorator: the caller's role must be at least `minimum`."""
    needed = Role[minimum]

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user.role < needed:
                raise Forbidden(f"requires role {minimum} or higher")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def can_read(user: User, owner: str) -> bool:
    """Admins and viewers read everything; testers read what they own."""
    return user.role is not Role.tester or owner == user.id


def can_write(user: User, owner: str) -> bool:
    """Admins change everything; testers change what they own; viewers nothing."""
    return user.is_admin or (user.role is Role.tester and owner == user.id)


def check_readable(user: User, owner: str, what: str = "resource") -> None:
    """404 (not 403) for what a tester does not own, so ids do not leak."""
    if not can_read(user, owner):
        raise NotFound(f"{what} not found")


def check_writable(user: User, owner: str, what: str = "resource") -> None:
    check_readable(user, owner, what)
    if not can_write(user, owner):
        raise Forbidden(f"your role may not change this {what}")


def owner_filter(stmt, owner_column, user: User):
    """Restrict a select to what the user may read."""
    if user.role is Role.tester:
        return stmt.where(owner_column == user.id)
    return stmt


def load_owned(session: Session, model: Any, row_id: str, user: User, what: str, *, write: bool = False) -> Any:
    """The row the user may read (or, with write, change): 404 when missing or not theirs, 403 if read-only."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    (check_writable if write else check_readable)(user, row.owner, what)
    return row
