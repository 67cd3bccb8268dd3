"""Platform TOTP seeds: checked when deposited, and turned into the current code at a reveal.

The vault stores the seed a platform issued, not one it would have chosen: many services still
issue 80-bit (16-character) seeds, below the 112 bits pyotp asks for (NIST SP 800-63B), and the
person holding the account cannot change that. So the vault accepts them and says they are short.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import pyotp

from lockdown.errors import InvalidInput

MIN_BITS = 80  # the shortest seed services are known to issue (16 base32 characters)
RECOMMENDED_BITS = 112  # pyotp's own minimum, after NIST SP 800-63B


class PlatformTOTP(pyotp.TOTP):
    """pyotp's TOTP, taking the shorter seeds platforms issue."""

    min_secret_length_bits = MIN_BITS


def check_totp_seed(seed: Any) -> tuple[str, int]:
    """A base32 TOTP seed, normalised (no spaces, upper case), and its length in bits; 400
    naming the field otherwise."""
    if not isinstance(seed, str):
        raise InvalidInput("totp_secret must be the base32 seed the platform showed", field="totp_secret")
    cleaned = seed.replace(" ", "").replace("-", "").upper()
    try:
        bits = len(base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))) * 8
    except (binascii.Error, ValueError):
        raise InvalidInput("totp_secret is not base32 (letters A-Z and digits 2-7)", field="totp_secret") from None
    if bits < MIN_BITS:
        raise InvalidInput(
            f"totp_secret is {bits} bits; a seed has at least {MIN_BITS} (16 base32 characters)", field="totp_secret"
        )
    return cleaned, bits


def is_short(bits: int | None) -> bool:
    """Whether a seed of this length is below the recommended minimum (None: no seed, or one
    deposited when the vault refused anything shorter)."""
    return bits is not None and bits < RECOMMENDED_BITS


def current_code(seed: str, at: datetime) -> str:
    """The code an authenticator app shows for this seed at this moment."""
    return PlatformTOTP(seed).at(at)
