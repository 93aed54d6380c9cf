"""Password and secret hashing.

Passwords are low-entropy and get argon2 (slow on purpose). API key secrets are 32 random bytes:
a fast SHA-256 is safe for them and keeps authentication off the hot path of every request.
"""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret_hash: str, secret: str) -> bool:
    return hmac.compare_digest(secret_hash, hash_secret(secret))
