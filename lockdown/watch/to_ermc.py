"""The watch's escalation: an out-of-band post seen outside any incident is a possible hijack
(policy 2.2.6, "if a social media account has been hacked ... flag this with ERMC"), so it files
an escalation of kind ``hacked`` on the account, in the transaction that marks the post
escalated (``checks.escalate_pending``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lockdown.escalations.reports import file_escalation
from lockdown.store.context import Changes
from lockdown.watch.checks import EscalationHook

REPORTER = "lockdown-watch"
# The platform's words in the report, cut: the report is read in a triage queue, and the whole
# post stays in the out-of-band record.
QUOTED = 500


def escalate_to_ermc(public_url: str) -> EscalationHook:
    """The hook the scheduler's watch uses: one escalation per out-of-band post."""

    def escalate(change: Changes, post: Mapping[str, Any]) -> None:
        text = str(post.get("text") or "")
        quoted = text if len(text) <= QUOTED else text[: QUOTED - 1] + "…"
        where = f" ({post['url']})" if post.get("url") else ""
        file_escalation(
            change,
            reporter=REPORTER,
            kind="hacked",
            account_id=int(post["account_id"]),
            url=None,
            details=(
                f"The watch saw a post Lockdown did not send, outside any incident: posted "
                f"{post.get('posted_at')}, seen {post.get('seen_at')}{where}. It said: {quoted}"
            ),
            public_url=public_url,
        )

    return escalate
