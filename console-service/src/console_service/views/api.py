"""/api/v1/auth: users (admins) and API tokens, for a bearer token or the console's login cookie."""

from __future__ import annotations

from flask import Blueprint, current_app

from console_service import accounts, tokens
from console_service.schemas import (
    AccountCreate,
    AccountList,
    AccountPatch,
    AccountRead,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenRead,
)
from shared.app_factory import resources
from shared.auth import current_user, require_role
from shared.body import json_object
from shared.db import current_session
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate
from shared.responses import respond

bp = Blueprint("auth_api", __name__)


@bp.get("/users")
@require_role("admin")
@document("List the accounts, by name (admins).", response=AccountList, query=PAGE_QUERY, errors=(403,))
def list_users():
    """List the accounts, by name (admins)."""
    return paginate(current_session(), accounts.accounts_query(), AccountRead)


@bp.post("/users")
@require_role("admin")
@document("Create an account (admins).", body=AccountCreate, response=AccountRead, status=201, errors=(403, 409, 422))
def create_user():
    """Create an account (admins)."""
    data = AccountCreate.model_validate(json_object())
    return respond(AccountRead, accounts.create_account(session=current_session(), data=data), 201)


@bp.get("/users/<account_id>")
@require_role("admin")
@document("One account (admins).", response=AccountRead, errors=(403, 404))
def get_user(account_id: str):
    """One account (admins)."""
    return respond(AccountRead, accounts.get_account(session=current_session(), account_id=account_id))


@bp.patch("/users/<account_id>")
@require_role("admin")
@document(
    "Re-role, disable or enable an account, or set its password (admins); disabling or re-roling revokes its "
    "API tokens.", body=AccountPatch, response=AccountRead, errors=(403, 404, 409, 422),
)  # fmt: skip
def change_user(account_id: str):
    """Re-role, disable or enable an account, or set its password (admins)."""
    data = AccountPatch.model_validate(json_object())
    session, redis = current_session(), resources().redis
    return respond(AccountRead, accounts.change_account(session=session, redis=redis, account_id=account_id, data=data))


@bp.get("/tokens")
@require_role("viewer")
@document("List the caller's API tokens (an admin's: everyone's), newest first.", response=TokenList, query=PAGE_QUERY)
def list_tokens():
    """List the caller's API tokens (an admin's: everyone's), newest first."""
    return paginate(current_session(), tokens.tokens_query(user=current_user()), TokenRead)


@bp.post("/tokens")
@require_role("viewer")
@document("Make an API token with the caller's role; the token is in this answer only.", body=TokenCreate,
          response=TokenCreated, status=201, errors=(403, 422))  # fmt: skip
def create_token():
    """Make an API token with the caller's role; the token is in this answer only."""
    data = TokenCreate.model_validate(json_object())
    settings = current_app.extensions["settings"]
    row, token = tokens.issue(session=current_session(), settings=settings, user=current_user(), data=data)
    return respond(TokenCreated, {**TokenRead.model_validate(row).model_dump(), "token": token}, 201)


@bp.delete("/tokens/<token_id>")
@require_role("viewer")
@document("Revoke a token: every service refuses it within 5 s.", response=TokenRead, errors=(404, 503))
def revoke_token(token_id: str):
    """Revoke a token: every service refuses it within 5 s."""
    session, redis = current_session(), resources().redis
    return respond(TokenRead, tokens.revoke_token(session=session, redis=redis, user=current_user(), token_id=token_id))
