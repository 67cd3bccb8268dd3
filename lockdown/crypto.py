"""Secrets at rest: AES-GCM from ``cryptography``, a random nonce per value, a key-id prefix on
every stored value, and associated data binding each value to its row, field and version, so a
ciphertext copied to another row or field does not decrypt."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class VaultError(Exception):
    """No key, an unknown key id, or a value that fails authentication."""


def key_id(key: bytes) -> str:
    """A short public name for a key, stored beside each value it encrypted."""
    return hashlib.sha256(b"lockdown key id" + key).hexdigest()[:12]


def binding(*parts: object) -> bytes:
    """The associated data for a value: what it belongs to, e.g. ("account", 3, "token", 1)."""
    return "|".join(str(part) for part in parts).encode()


class Vault:
    """Encrypts with the first key; decrypts with whichever key a value names."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        self.keys = {key_id(key): key for key in keys}
        self.current = key_id(keys[0]) if keys else None

    def encrypt(self, plaintext: str, associated: bytes) -> str:
        """``keyid:base64(nonce + ciphertext)``."""
        if self.current is None:
            raise VaultError("no vault key is configured: set LOCKDOWN_VAULT_KEY or LOCKDOWN_VAULT_KEY_FILE")
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext.encode(), associated)
        return f"{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, associated: bytes) -> str:
        """The plaintext, or VaultError when the key is unknown or the value was moved/altered."""
        kid, _, payload = stored.partition(":")
        key = self.keys.get(kid)
        if key is None:
            raise VaultError(f"the value was encrypted with key {kid}, which is not configured")
        raw = base64.b64decode(payload)
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated).decode()
        except InvalidTag:
            raise VaultError("the value does not authenticate: altered, or moved from elsewhere") from None

    def needs_rekey(self, stored: str) -> bool:
        """Whether a value was encrypted with a key other than the current one."""
        return not stored.startswith(f"{self.current}:")
