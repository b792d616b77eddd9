"""API tokens: JWTs with an id, shown once, listed and revoked; a revoked id goes on the revocation list
every service checks (shared/src/shared/token_revocation.py)."""

from __future__ import annotations

from datetime import timedelta

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from console_service.config import ConsoleSettings
from console_service.models import Account, ApiToken
from console_service.schemas import TokenCreate
from shared.auth import Role, User, encode_token
from shared.db import new_id, utcnow
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.token_revocation import revoke


def issue(*, session: Session, settings: ConsoleSettings, user: User, data: TokenCreate) -> tuple[ApiToken, str]:
    """Make a token for user with its current role; return the row and the token (never stored)."""
    max_days = settings.api_token_max_days
    account = session.get(Account, user.id)
    if account is None or account.disabled:
        raise Forbidden("API tokens are made for console accounts; log in to the console first")
    days = data.expires_in_days or max_days
    if days > max_days:
        raise Unprocessable(
            f"expires_in_days: at most {max_days}", details=[{"field": "expires_in_days", "message": f"≤ {max_days}"}]
        )
    now = utcnow()
    row = ApiToken(
        id=new_id(), account_id=user.id, name=data.name, role=user.role.name, created_at=now,
        expires_at=now + timedelta(days=days),
    )  # fmt: skip
    session.add(row)
    session.commit()
    token = encode_token(settings.auth_secret, user.id, user.role.name, days * 86400, token_id=row.id)
    return row, token


def tokens_query(*, user: User):
    """The caller's tokens (an admin's: everyone's), newest first."""
    query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    return query if user.role is Role.admin else query.where(ApiToken.account_id == user.id)


def revoke_token(*, session: Session, redis: Redis, user: User, token_id: str) -> ApiToken:
    """Revoke one of the caller's tokens (an admin: anyone's); revoking twice is no error."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.account_id != user.id and user.role is not Role.admin):
        raise NotFound(f"token {token_id} not found")
    _revoke(redis, row)
    session.commit()
    return row


def revoke_all(*, session: Session, redis: Redis, account_id: str) -> None:
    """Revoke every live token of an account (the caller commits)."""
    query = select(ApiToken).where(ApiToken.account_id == account_id, ApiToken.revoked_at.is_(None))
    for row in session.execute(query).scalars():
        _revoke(redis, row)


def _revoke(redis: Redis, row: ApiToken) -> None:
    # The list first: if Redis is down this raises and the row stays unrevoked, never the other way round.
    revoke(redis, row.id, int(row.expires_at.timestamp()))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
