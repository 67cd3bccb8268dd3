"""The sealed break-glass kit as a file, and its key as shares: no database, no network, no
settings, so ``lockdown kit open`` works on any machine with the file and enough shares.

A kit file is three lines of text:

    lockdown-kit 1
    {"credentials": [...], "holders": [...], "kit_id": "...", ...}     (the header, canonical JSON)
    <base64 of the 12-byte nonce and the AES-GCM ciphertext of the credentials>

The first two lines, exactly as written, are the associated data of the encryption, so a change
to any byte of the file fails authentication (or is refused before it, as not a kit). The header
is readable without the key (who holds shares, how many are needed, which credential versions
are inside), which is what staleness and ``kit used`` need; the secrets are only in the
ciphertext. The header also carries a commitment to the key (``key_check``: a SHA-256 of it),
so shares that rebuild the wrong key are told apart from a file altered after sealing.

The 256-bit kit key is split with PyCryptodome's Shamir scheme, which shares 16-byte secrets:
the key's two halves are split separately with the same threshold; PyCryptodome numbers shares
1..N in order, so holder i gets half one's share i and half two's share i, 32 bytes in all. A
share is one line of text naming its kit and its index, with a checksum for mistyping:

    lockdown-share-1:<kit id>:<index>:<64 hex digits>:<8 hex digits of checksum>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from Crypto.Protocol.SecretSharing import Shamir
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lockdown.errors import InvalidInput, LockdownError

MAGIC = "lockdown-kit 1"
SHARE_PREFIX = "lockdown-share-1"
KEY_BYTES = 32
HALF = 16
NONCE_BYTES = 12
MIN_THRESHOLD = 2
MAX_HOLDERS = 50
KIT_ID = re.compile(r"kit-[0-9a-f]{16}")
SHARE = re.compile(rf"{SHARE_PREFIX}:(kit-[0-9a-f]{{16}}):(\d{{1,3}}):([0-9a-f]{{64}}):([0-9a-f]{{8}})")


class KitRefused(LockdownError):
    """The kit cannot be opened: altered, not a kit, too few shares, or shares that do not fit it."""

    status, code = 422, "kit_refused"


@dataclass(frozen=True)
class Share:
    """One holder's part of a kit's key."""

    kit_id: str
    index: int
    value: bytes  # 32 bytes: the share of the key's first half, then of its second

    def text(self) -> str:
        """The share as the one line its holder keeps."""
        body = f"{SHARE_PREFIX}:{self.kit_id}:{self.index}:{self.value.hex()}"
        return f"{body}:{_checksum(body)}"


@dataclass(frozen=True)
class SealedKit:
    """A kit just sealed: the file's bytes, its header, and one share per holder (by index)."""

    kit_id: str
    header: dict[str, Any]
    data: bytes
    shares: list[Share]


def _checksum(body: str) -> str:
    # For mistyping only (a share is pasted or typed from paper); the AES-GCM tag is the real check.
    return hashlib.sha256(body.encode()).hexdigest()[:8]


def _key_check(key: bytes) -> str:
    return hashlib.sha256(b"lockdown kit key check" + key).hexdigest()


def _header_line(header: dict[str, Any]) -> str:
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _associated(header_line: str) -> bytes:
    return f"{MAGIC}\n{header_line}\n".encode()


def new_kit_id() -> str:
    """A random kit id, also written in every share of the kit."""
    return f"kit-{secrets.token_hex(8)}"


def check_threshold(threshold: int, holders: Sequence[str]) -> None:
    """2 <= K <= N, with N the number of holders (one share each)."""
    if len(holders) > MAX_HOLDERS:
        raise InvalidInput(f"holder: at most {MAX_HOLDERS} holders", field="holder")
    if not MIN_THRESHOLD <= threshold <= len(holders):
        raise InvalidInput(
            f"threshold must be between {MIN_THRESHOLD} and the number of holders ({len(holders)}), not {threshold}",
            field="threshold",
        )


def seal(
    kit_id: str, sealed_at: str, sealed_by: str, holders: Sequence[str], threshold: int,
    credentials: Sequence[dict[str, Any]],
) -> SealedKit:  # fmt: skip
    """Encrypt the credentials under a fresh random key and split the key among the holders.

    Each credential is a dict with account_id, handle, platform, version (in the header) and
    username, password, totp_secret, notes (only in the ciphertext)."""
    check_threshold(threshold, holders)
    key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    first = Shamir.split(threshold, len(holders), key[:HALF])
    second = Shamir.split(threshold, len(holders), key[HALF:])
    # Both halves must give holder i the share with index i; PyCryptodome numbers them 1..N.
    if [i for i, _ in first] != list(range(1, len(holders) + 1)) or [i for i, _ in second] != [i for i, _ in first]:
        raise RuntimeError("Shamir.split did not number the shares 1..N")
    shares = [Share(kit_id, i, a + b) for (i, a), (_, b) in zip(first, second, strict=True)]
    header = {
        "kit_id": kit_id,
        "sealed_at": sealed_at,
        "sealed_by": sealed_by,
        "threshold": threshold,
        "holders": [{"index": share.index, "email": email} for share, email in zip(shares, holders, strict=True)],
        "credentials": [
            {key_: c[key_] for key_ in ("account_id", "handle", "platform", "version")} for c in credentials
        ],
        "key_check": _key_check(key),
    }
    line = _header_line(header)
    payload = json.dumps({"kit_id": kit_id, "credentials": list(credentials)}, sort_keys=True).encode()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, payload, _associated(line))
    data = _associated(line) + base64.b64encode(nonce + sealed) + b"\n"
    return SealedKit(kit_id, header, data, shares)


@dataclass(frozen=True)
class KitFile:
    """A kit file read and its framing checked, not yet opened."""

    header: dict[str, Any]
    header_line: str
    nonce: bytes
    ciphertext: bytes

    @property
    def kit_id(self) -> str:
        return str(self.header["kit_id"])

    @property
    def threshold(self) -> int:
        return int(self.header["threshold"])

    def holder(self, index: int) -> str | None:
        """The email of the holder of share ``index``, if the kit has one."""
        return next((h["email"] for h in self.header["holders"] if h["index"] == index), None)


def read_kit(data: bytes) -> KitFile:
    """Parse a kit file's three lines; refuse anything that is not exactly a kit's framing. The
    header is only trusted once the ciphertext authenticates it (``open_kit``)."""
    not_a_kit = KitRefused("this is not a Lockdown kit file, or it was altered (its framing is wrong)", field="kit")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise not_a_kit from None
    lines = text.split("\n")
    if len(lines) != 4 or lines[0] != MAGIC or lines[3] != "":
        raise not_a_kit
    try:
        header = json.loads(lines[1])
        raw = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error):
        raise not_a_kit from None
    # A base64 line that decodes to the same bytes but is not how it was written is a change too.
    if base64.b64encode(raw).decode() != lines[2] or len(raw) <= NONCE_BYTES + 16:
        raise not_a_kit
    if not _well_formed(header):
        raise not_a_kit
    return KitFile(header, lines[1], raw[:NONCE_BYTES], raw[NONCE_BYTES:])


def _well_formed(header: Any) -> bool:
    try:
        return (
            isinstance(header, dict)
            and bool(KIT_ID.fullmatch(header["kit_id"]))
            and isinstance(header["threshold"], int)
            and isinstance(header["sealed_at"], str)
            and isinstance(header["sealed_by"], str)
            and isinstance(header["holders"], list)
            and all(isinstance(h["index"], int) and isinstance(h["email"], str) for h in header["holders"])
            and isinstance(header["credentials"], list)
            and isinstance(header["key_check"], str)
        )
    except (KeyError, TypeError):
        return False


def parse_share(text: str) -> Share:
    """One share line; refused, naming what is wrong, if it is not one or was mistyped."""
    match = SHARE.fullmatch(text.strip())
    if match is None:
        raise KitRefused(
            f"not a kit share (a share is one line starting {SHARE_PREFIX}:): {text.strip()[:40]!r}", field="share"
        )
    kit_id, index, value, check = match.groups()
    body = f"{SHARE_PREFIX}:{kit_id}:{index}:{value}"
    if _checksum(body) != check:
        raise KitRefused(f"share {index} of {kit_id} is mistyped: its checksum does not match", field="share")
    return Share(kit_id, int(index), bytes.fromhex(value))


def share_lines(text: str) -> list[str]:
    """The share lines in a share file or pasted text: blank lines and # comments are skipped, and
    anything before a share on its line (the holder's email, as ``kit seal`` prints it) dropped."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [line[line.index(SHARE_PREFIX) :] if SHARE_PREFIX in line else line for line in lines]


def choose_shares(kit: KitFile, shares: Iterable[Share]) -> list[Share]:
    """The distinct shares of this kit, in the order given, refused if one belongs to another kit,
    names no holder of it, or contradicts another with the same index."""
    chosen: dict[int, Share] = {}
    for share in shares:
        if share.kit_id != kit.kit_id:
            raise KitRefused(
                f"share {share.index} belongs to kit {share.kit_id}, not to this kit ({kit.kit_id})", field="share"
            )
        if kit.holder(share.index) is None:
            raise KitRefused(f"kit {kit.kit_id} has no share {share.index}", field="share")
        if share.index in chosen and chosen[share.index] != share:
            raise KitRefused(f"two different shares claim to be share {share.index} of {kit.kit_id}", field="share")
        chosen[share.index] = share
    return list(chosen.values())


def missing(kit: KitFile, shares: Sequence[Share]) -> int:
    """How many more distinct shares the kit needs."""
    return max(0, kit.threshold - len(shares))


def open_kit(kit: KitFile, shares: Sequence[Share]) -> list[dict[str, Any]]:
    """Rebuild the key from K shares and decrypt: the credentials, or KitRefused saying why."""
    need = missing(kit, shares)
    if need:
        have = len(shares)
        raise KitRefused(
            f"kit {kit.kit_id} needs {kit.threshold} shares; {have} given, {need} more needed", field="share"
        )
    # Shamir.combine wants exactly K shares; more would be checked by nothing but the tag anyway.
    used = shares[: kit.threshold]
    key = Shamir.combine([(s.index, s.value[:HALF]) for s in used]) + Shamir.combine(
        [(s.index, s.value[HALF:]) for s in used]
    )
    if not secrets.compare_digest(_key_check(key), kit.header["key_check"]):
        raise KitRefused(
            f"these shares do not rebuild kit {kit.kit_id}'s key: a share is wrong (altered or from a "
            "re-seal of the same holders), or the kit's header was changed",
            field="share",
        )
    try:
        payload = AESGCM(key).decrypt(kit.nonce, kit.ciphertext, _associated(kit.header_line))
    except InvalidTag:
        raise KitRefused(
            f"kit {kit.kit_id} was altered after it was sealed: it does not authenticate", field="kit"
        ) from None
    opened = json.loads(payload)
    if opened.get("kit_id") != kit.kit_id:
        raise KitRefused(f"kit {kit.kit_id}'s contents belong to another kit", field="kit")
    return list(opened["credentials"])
