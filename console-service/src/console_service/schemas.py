"""Request and response bodies of the console's JSON API (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.db import ID_PATTERN
from shared.pagination import Page

RoleName = Literal["viewer", "tester", "admin"]
# argon2 hashes any length, but a megabyte password would cost a megabyte of hashing per login attempt.
PASSWORD_LENGTH = {"min_length": 8, "max_length": 256}


class AccountCreate(BaseModel):
    """A new account: POST /users (admins)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(pattern=f"^{ID_PATTERN}$", description="the user name; the `sub` and `owner` everywhere")
    password: str = Field(**PASSWORD_LENGTH)
    role: RoleName = "tester"


class AccountPatch(BaseModel):
    """A change to an account: PATCH /users/{id} (admins)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: RoleName | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, **PASSWORD_LENGTH)


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    role: RoleName
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


class AccountList(Page):
    items: list[AccountRead]


class TokenCreate(BaseModel):
    """A new API token for the caller: POST /tokens."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, description="default and maximum: API_TOKEN_MAX_DAYS")


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    account_id: str
    name: str
    role: RoleName
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="the bearer token; shown only in this answer")


class TokenList(Page):
    items: list[TokenRead]
