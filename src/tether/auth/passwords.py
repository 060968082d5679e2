"""Password hashing: argon2id, stored as PHC strings (`$argon2id$v=19$m=...,t=...,p=...$...`).

Parameters are OWASP's recommendation for argon2id (19 MiB, 2 passes, 1 lane): about 45 ms of
CPU per hash on our 2-core machines, where RFC 9106's 64 MiB/3 passes/4 lanes cost ~300 ms and
64 MiB per concurrent login, which makes the login endpoint itself a cheap way to exhaust the
server. The PHC string records the parameters, so a hash made with other ones still verifies and
is upgraded on the next successful login (`needs_rehash`). Verifying against a dummy hash for
unknown users makes a login take as long whether or not the user exists.
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from tether.auth.errors import BadRequest

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
MIN_LENGTH = 8
MAX_LENGTH = 1024  # argon2 takes any length; this only bounds what one request can make us hash

_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)


def check_acceptable(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise BadRequest(f"a password must have {MIN_LENGTH} to {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_acceptable(password)
    return _HASHER.hash(password)


def verify(phc: str, password: str) -> bool:
    """True if `password` matches; False for a mismatch or a hash we cannot read."""
    if len(password) > MAX_LENGTH:  # no stored password is this long; cost the same anyway
        return verify_dummy("")
    try:
        return _HASHER.verify(phc, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(phc: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(phc)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def verify_dummy(password: str) -> bool:
    """Spend what a real verification costs, for a user that does not exist; always False."""
    verify(_dummy_hash(), password)
    return False


def generate_password() -> str:
    return secrets.token_urlsafe(18)  # 144 bits, 24 characters
