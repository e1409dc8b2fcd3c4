"""Encryption of secrets at rest (MultiFernet, key rotation) and masking for display."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def parse_fernet_keys(spec: str) -> list[Fernet]:
    """Parse ENCRYPTION_KEY: comma-separated Fernet keys, newest first."""
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    if not keys:
        raise ValueError("needs at least one Fernet key (python -m gateway_app gen-key)")
    fernets = []
    for index, key in enumerate(keys):
        try:
            if len(base64.urlsafe_b64decode(key.encode())) != 32:
                raise ValueError
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError):
            raise ValueError(
                f"key #{index + 1} is not a url-safe base64 32-byte Fernet key"
            ) from None
    return fernets


def generate_key() -> str:
    """A new random Fernet key."""
    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts with the first key, decrypts with any: rotation is 'prepend a key, re-encrypt'."""

    def __init__(self, key_spec: str) -> None:
        self._fernet = MultiFernet(parse_fernet_keys(key_spec))

    def encrypt(self, plaintext: str) -> str:
        """Encrypt a secret for storage."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Decrypt a stored secret."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise DecryptionError("secret cannot be decrypted with the configured keys") from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt a stored secret with the newest key."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise DecryptionError("secret cannot be decrypted with the configured keys") from None


def mask_secret(secret: str | None, keep: int = 4) -> str:
    """Show a secret as 'sk-...abcd': its prefix up to the first dash and its last characters."""
    if not secret:
        return ""
    if len(secret) <= keep * 2:
        return "*" * len(secret)
    head = secret.split("-", 1)[0] + "-" if "-" in secret[:8] else ""
    return f"{head}...{secret[-keep:]}"
