"""/tokens: the user's API tokens: make one (shown once), list, revoke."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, request
from pydantic import ValidationError

from console_service import tokens
from console_service.pages.common import form_errors, page
from console_service.schemas import TokenCreate, TokenRead
from shared.app_factory import resources
from shared.auth import current_user, require_role
from shared.db import current_session
from shared.pagination import paginate

bp = Blueprint("tokens_page", __name__)


@bp.get("/tokens")
@require_role("viewer")
def list_():
    """The user's tokens, newest first, and the form for a new one."""
    return _page()


@bp.post("/tokens")
@require_role("viewer")
def create():
    """Make a token and show it, once."""
    settings = current_app.extensions["settings"]
    days = request.form.get("expires_in_days", "").strip()
    try:
        data = TokenCreate.model_validate(
            {"name": request.form.get("name", ""), "expires_in_days": int(days) if days.isdigit() else None}
        )
    except ValidationError as exc:
        return _page(errors=form_errors(exc)), 422
    _row, token = tokens.issue(session=current_session(), settings=settings, user=current_user(), data=data)
    return _page(new_token=token, new_token_name=data.name), 201


@bp.post("/tokens/<token_id>/revoke")
@require_role("viewer")
def revoke(token_id: str):
    """Revoke a token; every service refuses it within 5 s."""
    tokens.revoke_token(session=current_session(), redis=resources().redis, user=current_user(), token_id=token_id)
    return redirect("/tokens")


def _page(**extra):
    settings = current_app.extensions["settings"]
    listing = paginate(current_session(), tokens.tokens_query(user=current_user()), TokenRead)
    return page("tokens.html", listing=listing, max_days=settings.api_token_max_days, errors={}, **extra)
