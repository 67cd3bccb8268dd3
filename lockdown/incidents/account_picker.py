"""Finding the account a compromised-account declaration names: by handle (or unit) and platform,
for whoever may declare, and no one else."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from lockdown.people.users import User
from lockdown.register.accounts import PLATFORM_NAMES, PLATFORMS, get_account, list_accounts

PICKER_LIMIT = 20
# Words people type for a platform that are not its name in the register.
PLATFORM_WORDS = {
    **{name.lower(): platform for platform, name in PLATFORM_NAMES.items() if platform != "other"},
    **{platform: platform for platform in PLATFORMS if platform != "other"},
    "twitter": "x", "fb": "facebook", "ig": "instagram", "insta": "instagram", "yt": "youtube",
}  # fmt: skip


def find_accounts_to_name(db: Database, actor: User, q: str, platform: str | None = None) -> dict[str, Any]:
    """Active accounts a press officer may name at declaration, matching ``q``: a handle or unit
    (the start of any part, ``@`` optional) and, as a word of ``q`` or ``platform``, a platform.
    Press only: the picker is part of declaring, and shows the register to no one else."""
    actor.require("press")
    words = q.split()
    named_platforms = {PLATFORM_WORDS[word.lower()] for word in words if word.lower() in PLATFORM_WORDS}
    text = " ".join(word for word in words if word.lower() not in PLATFORM_WORDS).lstrip("@")
    wanted = platform or (named_platforms.pop() if len(named_platforms) == 1 else None)
    if not text and wanted is None:
        return {"items": [], "more": False}
    found = list_accounts(db, q=text or None, platform=wanted, limit=PICKER_LIMIT)
    return {"items": [_choice(account) for account in found["items"]], "more": found["next"] is not None}


def account_to_name(db: Database, actor: User, account_id: int) -> dict[str, Any]:
    """The account chosen in the picker, as the confirmation names it (press only; the caller
    has checked it with ``check_named_account``)."""
    actor.require("press")
    return _choice(get_account(db, account_id))


def _choice(account: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": account["id"],
        "handle": account["handle"],
        "platform": account["platform"],
        "platform_name": PLATFORM_NAMES.get(account["platform"], account["platform"]),
        "unit": account["unit"],
        "central": account["central"],
        "held": account["held"],
    }
