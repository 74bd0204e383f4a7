"""Password hashing (argon2id) for sign-in; the engine stores only the hash."""

from __future__ import annotations

import contextlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
#: Every demo account's password (README): a demo is for trying things, not for production.
DEMO_PASSWORD = "banli-demo"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    """A hash of a random password nobody knows, made once per process with the same cost."""
    return _hasher.hash(secrets.token_urlsafe(32))


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; a missing or malformed hash never matches.

    Without a usable hash (unknown login, account without password, damaged hash) a dummy hash
    is verified instead, so that a refusal takes as long whether or not the login exists.
    """
    if stored:
        try:
            return _hasher.verify(stored, password)
        except VerificationError:  # hashed, and it did not match
            return False
        except InvalidHashError:  # nothing was hashed: do the work on the dummy below
            pass
    _verify_dummy(password)
    return False


def _verify_dummy(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(_dummy_hash(), password)
