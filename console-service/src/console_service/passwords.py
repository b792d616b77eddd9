"""Password hashing: argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of password, with its own salt and parameters."""
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether password is the one hashed; with no hash (no such account) the same work is done, so timing
    does not tell which account names exist."""
    try:
        return _hasher.verify(password_hash or _unmatchable_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def _unmatchable_hash() -> str:
    return _hasher.hash("no account has this password: it is only verified against")
