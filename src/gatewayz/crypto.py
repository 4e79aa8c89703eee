"""Encryption at rest for secrets the gateway must read back (provider credentials).

MultiFernet: the first key encrypts, every key decrypts, so a new key can be put first and old
tokens re-encrypted with `rotate` before the old key is dropped.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gatewayz.settings import Settings


class DecryptionError(ValueError):
    """The token was not made by any of the configured keys, or was tampered with."""


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise ValueError(
                "GATEWAYZ_ENCRYPTION_KEYS must be comma-separated Fernet keys (32 url-safe base64-encoded bytes each)"
            ) from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(settings.encryption_key_list)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise DecryptionError("cannot decrypt: unknown key or corrupted token") from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt under the primary (first) key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise DecryptionError("cannot rotate: unknown key or corrupted token") from exc
