"""A sealed kit goes stale when a password it holds is replaced: the kit would hand out a
password that no longer works. Checked in the deposit's own transaction (not in a sweep), so the
kit is marked and ERMC's notice queued together with the new version, or not at all, and a kit is
told about once: the mark is set only on a kit not already marked."""

from __future__ import annotations

from lockdown.notify.outbox import Notice, queue
from lockdown.people.users import role_holders
from lockdown.store.context import Changes
from lockdown.timeutil import to_iso


def mark_kits_stale(change: Changes, account_id: int, version: int, handle: str) -> list[str]:
    """After version ``version`` of an account's password is deposited: every kit not yet stale
    that holds an older version of it (or lacks it, having been sealed before its first deposit)
    is marked stale, audited, and ERMC told once per kit to reseal. The kits marked."""
    db = change.context.db
    reason = f"the password of {handle} (account {account_id}) was replaced by version {version}"
    stale = [
        str(row[0])
        for row in db.conn.execute(
            "UPDATE kits SET stale_at = ?, stale_reason = ? WHERE stale_at IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM kit_credentials k WHERE k.kit_id = kits.id AND k.account_id = ? AND k.version >= ?) "
            "RETURNING id",
            [to_iso(change.at), reason, account_id, version],
        )
    ]
    ermc = role_holders(db, "ermc")
    for kit_id in sorted(stale):
        change.audit("lockdown", "kit.stale", f"kit:{kit_id}", account_id=account_id, version=version)
        subject = f"Lockdown: break-glass kit {kit_id} is stale; seal a new one"
        body = (
            f"The sealed break-glass kit {kit_id} no longer holds every current password: {reason} at "
            f"{change.at:%d %b %Y %H:%M} UTC.\n\nSeal a new kit (`lockdown kit seal`), give its holders their "
            f"new shares, and destroy kit {kit_id} and its shares. `lockdown kit list` shows every kit."
        )
        queue(change, [Notice("kit_stale", email, subject, body, user_id=user_id) for user_id, _n, email in ermc])
    return stale
