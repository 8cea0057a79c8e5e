"""Password hashing (argon2) and API tokens (random, stored as a digest only)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so that a wrong user name
# takes as long as a wrong password and does not reveal which names exist.
_DUMMY = _hasher.hash("no such user")
TOKEN_PREFIX = "om_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    return secrets.token_urlsafe(12)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database keeps of a token: tokens have 256 random bits, so sha256 suffices."""
    return hashlib.sha256(token.encode()).hexdigest()
