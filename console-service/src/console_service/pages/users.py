"""/users (admins): create accounts, change their role, disable and enable them."""

from __future__ import annotations

from flask import Blueprint, redirect, request
from pydantic import ValidationError

from console_service import accounts
from console_service.pages.common import form_errors, page
from console_service.schemas import AccountCreate, AccountPatch, AccountRead
from shared.app_factory import resources
from shared.auth import require_role
from shared.db import current_session
from shared.pagination import paginate

bp = Blueprint("users_page", __name__)


@bp.get("/users")
@require_role("admin")
def list_():
    """Every account, and the form for a new one."""
    return _page()


@bp.post("/users")
@require_role("admin")
def create():
    """Create an account."""
    form = {k: request.form.get(k, "") for k in ("id", "password", "role")}
    try:
        data = AccountCreate.model_validate(form)
    except ValidationError as exc:
        return _page(errors=form_errors(exc), form=form), 422
    accounts.create_account(session=current_session(), data=data)
    return redirect("/users")


@bp.post("/users/<account_id>")
@require_role("admin")
def change(account_id: str):
    """Apply the row's role and enabled fields."""
    patch: dict[str, object] = {"role": request.form.get("role") or None}
    if "disabled" in request.form:
        patch["disabled"] = request.form["disabled"] == "true"
    data = AccountPatch.model_validate(patch)
    accounts.change_account(session=current_session(), redis=resources().redis, account_id=account_id, data=data)
    return redirect("/users")


def _page(**extra):
    listing = paginate(current_session(), accounts.accounts_query(), AccountRead)
    return page("users.html", listing=listing, errors=extra.pop("errors", {}), form=extra.pop("form", {}), **extra)
