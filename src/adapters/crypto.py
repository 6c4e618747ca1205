"""AES-256-GCM with key ids: the ``Cipher`` port for store credentials.

Keys come from ``TOKEN_ENCRYPTION_KEYS``: comma-separated ``id:base64key`` entries, each key
32 random bytes. The first entry seals, every entry opens, so a key is rotated by putting a new
one first, re-sealing what is stored (``AesGcmCipher.rotate``) and then dropping the old one.

A sealed value is a text token ``v1.<key id>.<base64url(nonce | ciphertext | tag)>`` with a
96-bit random nonce per message. The version and key id are authenticated along with the
caller's associated data, so changing any part of the token makes it fail to open.

Error messages name a key id at most: never key material, plaintext or the token itself.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping, Sequence

from attrs import field, frozen
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import CryptoError, InvalidInput

__all__ = ["KEY_BYTES", "AesGcmCipher", "generate_key_spec"]

KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_VERSION = "v1"
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def _check_key_id(key_id: str, where: str) -> None:
    if not _KEY_ID.fullmatch(key_id):
        # The id is not echoed: a malformed entry may hold key material in the wrong place.
        raise InvalidInput(f"{where}: key id must be 1-32 letters, digits, '-' or '_'")


def _decode_key(text: str) -> bytes | None:
    """Standard or URL-safe base64, padding optional; ``None`` if it is not base64."""
    if not _BASE64.fullmatch(text):
        return None
    unpadded = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(
            unpadded.replace("+", "-").replace("/", "_") + "=" * (-len(unpadded) % 4)
        )
    except ValueError:  # binascii.Error: bad padding or length
        return None


def generate_key_spec(key_id: str) -> str:
    """A new ``id:base64key`` entry with a fresh random 256-bit key."""
    _check_key_id(key_id, "new encryption key")
    key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    return f"{key_id}:{base64.b64encode(key).decode('ascii')}"


def _encode_payload(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode_payload(text: str) -> bytes | None:
    """Strict, canonical base64url without padding; ``None`` for anything else."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Reject non-canonical encodings (stray bits in the last character), so that one sealed
    # value has exactly one textual form.
    if _encode_payload(data) != text:
        return None
    return data


def _header(key_id: str) -> bytes:
    return f"{_VERSION}.{key_id}.".encode("ascii")


@frozen(eq=False)
class AesGcmCipher:
    """Seals with ``current_key_id``; opens with any key it holds.

    Build it with ``from_spec`` (the ``TOKEN_ENCRYPTION_KEYS`` text) or ``from_keys``.
    """

    current_key_id: str
    _keys: Mapping[str, AESGCM] = field(repr=False, alias="keys")

    def __attrs_post_init__(self) -> None:
        if self.current_key_id not in self._keys:
            raise InvalidInput("the current key id is not among the keys")

    @classmethod
    def from_keys(
        cls, keys: Sequence[tuple[str, bytes]], *, label: str = "encryption key"
    ) -> AesGcmCipher:
        """``(key id, 32-byte key)`` pairs, current key first.

        Raises ``InvalidInput`` naming the bad pair as ``<label> <position>``.
        """
        if not keys:
            raise InvalidInput("at least one encryption key is needed")
        ciphers: dict[str, AESGCM] = {}
        for position, (key_id, key) in enumerate(keys, start=1):
            where = f"{label} {position}"
            _check_key_id(key_id, where)
            if key_id in ciphers:
                raise InvalidInput(f"{where}: key id {key_id!r} appears more than once")
            if len(key) != KEY_BYTES:
                raise InvalidInput(
                    f"{where} (key id {key_id!r}): key must be {KEY_BYTES} bytes "
                    f"(base64 of {KEY_BYTES} random bytes), not {len(key)}"
                )
            ciphers[key_id] = AESGCM(key)
        return cls(current_key_id=keys[0][0], keys=ciphers)

    @classmethod
    def from_spec(cls, spec: str, *, name: str = "TOKEN_ENCRYPTION_KEYS") -> AesGcmCipher:
        """Parse ``id:base64key[,id:base64key...]``; ``name`` is what error messages call it.

        Raises ``InvalidInput`` with one line saying which entry is wrong and why.
        """
        entries = [entry.strip() for entry in spec.split(",")]
        if entries == [""]:
            raise InvalidInput(f"{name} is empty: expected id:base64key[,id:base64key...]")
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(entries, start=1):
            where = f"{name} entry {position}"
            if not entry:
                raise InvalidInput(f"{where} is empty (stray comma?)")
            key_id, colon, encoded = entry.partition(":")
            if not colon:
                raise InvalidInput(f"{where} is not of the form id:base64key")
            key_id = key_id.strip()
            _check_key_id(key_id, where)
            key = _decode_key(encoded.strip())
            if key is None:
                raise InvalidInput(f"{where} (key id {key_id!r}): key is not valid base64")
            keys.append((key_id, key))
        return cls.from_keys(keys, label=f"{name} entry")

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id this cipher can open, current first."""
        return (self.current_key_id, *(k for k in self._keys if k != self.current_key_id))

    def encrypt(self, plaintext: bytes, *, associated_data: bytes = b"") -> str:
        key_id = self.current_key_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[key_id].encrypt(nonce, plaintext, _header(key_id) + associated_data)
        return f"{_VERSION}.{key_id}.{_encode_payload(nonce + sealed)}"

    def decrypt(self, ciphertext: str, *, associated_data: bytes = b"") -> bytes:
        key_id, payload = self._parse(ciphertext)
        nonce, sealed = payload[:_NONCE_BYTES], payload[_NONCE_BYTES:]
        try:
            return self._keys[key_id].decrypt(nonce, sealed, _header(key_id) + associated_data)
        except InvalidTag:
            raise CryptoError(
                f"ciphertext sealed with key {key_id!r} failed authentication "
                "(tampered, or other associated data)"
            ) from None

    def key_id_of(self, ciphertext: str) -> str:
        """The id of the key that sealed ``ciphertext`` (a key this cipher holds)."""
        return self._parse(ciphertext)[0]

    def rotate(self, ciphertext: str, *, associated_data: bytes = b"") -> str:
        """``ciphertext`` sealed with the current key: unchanged if it already was.

        Raises ``CryptoError`` like ``decrypt``, so a rotation command stops on a value it
        cannot open rather than writing over it.
        """
        if self.key_id_of(ciphertext) == self.current_key_id:
            # Still authenticate it: a rotation pass doubles as an integrity check.
            self.decrypt(ciphertext, associated_data=associated_data)
            return ciphertext
        plaintext = self.decrypt(ciphertext, associated_data=associated_data)
        return self.encrypt(plaintext, associated_data=associated_data)

    def _parse(self, ciphertext: str) -> tuple[str, bytes]:
        version, _, rest = ciphertext.partition(".")
        key_id, dot, encoded = rest.partition(".")
        if version != _VERSION or not dot:
            raise CryptoError(f"ciphertext is not a {_VERSION} token")
        if not _KEY_ID.fullmatch(key_id):
            raise CryptoError("ciphertext names a malformed key id")
        if key_id not in self._keys:
            raise CryptoError(f"ciphertext was sealed with unknown key {key_id!r}")
        payload = _decode_payload(encoded)
        if payload is None:
            raise CryptoError(f"ciphertext sealed with key {key_id!r} is not valid base64url")
        if len(payload) < _NONCE_BYTES + _TAG_BYTES:
            raise CryptoError(f"ciphertext sealed with key {key_id!r} is truncated")
        return key_id, payload
