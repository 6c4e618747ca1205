"""Argon2id password hashing: the ``PasswordHasher`` port, on argon2-cffi.

Production uses argon2-cffi's RFC 9106 "low memory" profile (argon2id, 64 MiB, 3 passes,
4 lanes). Cheaper parameters exist only for tests and are only used when a caller passes them
explicitly (``Argon2PasswordHasher(parameters=TEST_PARAMETERS)``).
"""

from __future__ import annotations

from argon2 import Parameters, PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY
from attrs import field, frozen

from core.errors import InvalidInput

__all__ = ["DEFAULT_PARAMETERS", "TEST_PARAMETERS", "Argon2PasswordHasher"]

DEFAULT_PARAMETERS: Parameters = RFC_9106_LOW_MEMORY
TEST_PARAMETERS: Parameters = CHEAPEST
"""Fast and worthless against an attacker: for test suites only."""


def _secret(password: str) -> bytes:
    # ``surrogatepass`` so any Python string hashes instead of raising mid-login.
    return password.encode("utf-8", "surrogatepass")


@frozen
class Argon2PasswordHasher:
    """Salted argon2id hashes in the PHC string format (``$argon2id$v=19$m=...``)."""

    parameters: Parameters = DEFAULT_PARAMETERS
    _hasher: PasswordHasher = field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.parameters.type is not Type.ID:
            raise InvalidInput("password hashes must use argon2id")
        object.__setattr__(self, "_hasher", PasswordHasher.from_parameters(self.parameters))

    def hash(self, password: str) -> str:
        return self._hasher.hash(_secret(password))

    def verify(self, password_hash: str, password: str) -> bool:
        """``True`` if ``password`` matches; ``False`` if not or if the hash is malformed."""
        try:
            return self._hasher.verify(password_hash, _secret(password))
        except (VerificationError, InvalidHashError, ValueError):
            # ValueError covers a hash that is not even ASCII.
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """``True`` if the hash was made with other parameters, or cannot be read at all."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except ValueError:  # InvalidHashError is a ValueError
            return True
