"""Accounts: the first admin, creating, changing and authenticating them."""

from __future__ import annotations

import logging

from flask import current_app
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from console_service import login_sessions, tokens
from console_service.config import ConsoleSettings
from console_service.models import Account
from console_service.passwords import hash_password, needs_rehash, password_matches
from console_service.schemas import AccountCreate, AccountPatch
from shared.db import current_session, utcnow
from shared.errors import Conflict, NotFound

log = logging.getLogger(__name__)
# Set on the app once an account is known to exist: from then on a login does not look again.
FIRST_ADMIN_CHECKED = "console_first_admin_checked"


def ensure_first_admin(settings: ConsoleSettings) -> None:
    """At start, and at a login while the start could not check: the first admin exists once the database answers."""
    if current_app.extensions.get(FIRST_ADMIN_CHECKED):
        return
    try:
        create_first_admin(session=current_session(), user=settings.admin_user, password=settings.admin_password)
    except DBAPIError as exc:  # the database is not up yet: the next login tries again
        current_session().rollback()
        log.warning("could not check for the first admin yet: %s", exc.__class__.__name__)
        return
    current_app.extensions[FIRST_ADMIN_CHECKED] = True


def create_first_admin(*, session: Session, user: str, password: str) -> bool:
    """Create the admin named by TESTFLEET_ADMIN_USER when there is no account yet; True if it did."""
    if session.execute(select(func.count()).select_from(Account)).scalar_one():
        return False
    session.add(Account(id=user, role="admin", password_hash=hash_password(password)))
    try:
        session.commit()
    except IntegrityError:  # another process of this service created it first
        session.rollback()
        return False
    log.info("created the first admin, %r", user)
    return True


def accounts_query():
    """Every account, by name."""
    return select(Account).order_by(Account.id)


def get_account(*, session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"user {account_id} not found")
    return account


def create_account(*, session: Session, data: AccountCreate) -> Account:
    """Create an account; 409 when the name is taken."""
    if session.get(Account, data.id) is not None:
        raise Conflict(f"user {data.id} already exists", details={"field": "id"})
    account = Account(id=data.id, role=data.role, password_hash=hash_password(data.password))
    session.add(account)
    session.commit()
    return account


def change_account(*, session: Session, redis: Redis, account_id: str, data: AccountPatch) -> Account:
    """Re-role, disable or enable an account, or set its password.

    Disabling ends its logins and revokes its API tokens; a new role revokes its tokens too, since each carries
    the role it was made with. The last enabled admin cannot be disabled or re-roled (nobody could undo it).
    """
    account = get_account(session=session, account_id=account_id)
    loses_admin = account.role == "admin" and (data.disabled or (data.role not in (None, "admin")))
    if loses_admin and not account.disabled and _enabled_admins(session) <= 1:
        raise Conflict("this is the last enabled admin: make another admin first")
    role_changed = data.role is not None and data.role != account.role
    disabling = data.disabled is True and not account.disabled
    if data.role is not None:
        account.role = data.role
    if data.disabled is not None:
        account.disabled = data.disabled
    if data.password is not None:
        account.password_hash = hash_password(data.password)
    if disabling:
        login_sessions.end_all(session=session, account_id=account.id)
    if disabling or role_changed:
        tokens.revoke_all(session=session, redis=redis, account_id=account.id)
    session.commit()
    return account


def authenticate(*, session: Session, user: str, password: str) -> Account | None:
    """The enabled account whose password this is, else None (the same work either way)."""
    account = session.get(Account, user)
    matches = password_matches(account.password_hash if account else None, password)
    if account is None or not matches or account.disabled:
        return None
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.last_login_at = utcnow()
    session.commit()
    return account


def _enabled_admins(session: Session) -> int:
    query = select(func.count()).select_from(Account).where(Account.role == "admin", Account.disabled.is_(False))
    return session.execute(query).scalar_one()
