"""Facebook Page: ``POST https://graph.facebook.com/{version}/{page_id}/feed`` with ``message``
publishes to the Page's feed; ``DELETE https://graph.facebook.com/{version}/{post_id}`` deletes.
The version is the installation's ``LOCKDOWN_GRAPH_VERSION`` (``graph_version`` beside the
settings).

Settings: ``page_id`` (the Page's numeric id). Secrets: ``page_access_token`` (a Page access
token with ``pages_manage_posts``), sent as ``Authorization: Bearer`` so it stays out of URLs.

Graph errors are read by ``connectors.graph_errors``: business use case limits (8000x) wait for
the window the platform reports; suspected spam (code 4, subcode 2207051) is permanent.

Native schedules (``connectors.native``): ``GET /{page_id}/scheduled_posts`` lists them, asking
only for current Page Post fields (a link is in ``attachments``' ``unshimmed_url``). A
scheduled post cannot be moved to "never", so withdrawing one deletes it (its message, link
and time were captured when it was listed) and restoring it schedules a new post with
``POST /{page_id}/feed``, ``published=false`` and ``scheduled_publish_time``, which must be
at least 10 minutes ahead (and at most 30 days, by most accounts). Only the message and link
come back: photos or other attachments of a natively scheduled post are not recreated.

Readiness: ``GET /{page_id}?fields=id,name`` (the token reaches the Page), then
``GET /debug_token?input_token={token}`` with the same token, which reports whether it is
valid, its ``scopes`` and ``expires_at`` (0: never). Without ``pages_manage_posts`` the Page
cannot be posted to: not ready. Meta documents debug_token for "an app access token or an app
developer's user access token" (reference/debug_token); a Page token issued through a
university's own app by its developer is answered (an assumption: not run against Meta here),
another may be refused, and then the check
reports the Page as reached with its permissions "not reported" rather than failing it. Page
tokens fall under the Pages business use case rate limit (4,800 calls per engaged user a day);
two calls every few hours are far within it.

The watch (``recent_posts``): ``GET /{page_id}/feed?fields=id,message,created_time,permalink_url
&since={unix}`` (https://developers.facebook.com/docs/graph-api/reference/page/feed/), newest
first, following ``paging.next`` on the Graph host only. Reading the feed needs
``pages_read_engagement``; a token without it (Graph error 10 or 200-299) is Unwatchable.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from connectors import graph_watch, native
from connectors.base import Connector, ConnectorError, OutgoingPost, Published, Ready, RemotePost, Setting
from connectors.graph_errors import graph_error
from connectors.http import check_response, network_error, new_session
from connectors.native import NativeScheduled
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy
from connectors.versions import graph_version

GRAPH_HOST = "https://graph.facebook.com"
# The Page Post's ``link`` field is deprecated since v3.3: its link comes in its attachments.
SCHEDULED_FIELDS = "id,message,scheduled_publish_time,attachments{type,unshimmed_url}"
MAX_SCHEDULED_PAGES = 20
# Facebook schedules 10 minutes to 30 days ahead. A restore whose original time is less than
# RESTORE_AT_LEAST ahead (10 minutes, and one to spare for the request) goes out
# RESTORE_OTHERWISE from now.
RESTORE_AT_LEAST = timedelta(minutes=11)
RESTORE_OTHERWISE = timedelta(minutes=15)
# What publishing to a Page's feed needs (https://developers.facebook.com/docs/pages-api/posts).
NEEDED_PERMISSION = "pages_manage_posts"
FEED_FIELDS = "id,message,created_time,permalink_url"
FEED_PAGE = "100"
READ_PERMISSION = "pages_read_engagement"
# Graph's "invalid OAuth access token" (expired, revoked, password changed).
INVALID_TOKEN = 190


class FacebookConnector(Connector):
    kind = "facebook"
    host = "graph.facebook.com"
    settings = (Setting("page_id"),)
    secrets = ("page_access_token",)

    def __init__(
        self, settings: Mapping[str, Any], secrets: Mapping[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        super().__init__(settings, secrets, outbound=outbound)
        self.session = new_session(outbound=self.outbound)
        self.graph_url = f"{GRAPH_HOST}/{graph_version(self.config)}"

    def publish(self, post: OutgoingPost) -> Published:
        # The Graph API has no idempotency key: a lost answer may mean a published post.
        body = self.graph(
            self.session,
            "POST",
            f"{self.graph_url}/{self.config['page_id']}/feed",
            token=self.secret["page_access_token"],
            data={"message": post.body},
        )
        post_id = body.get("id")
        if not post_id:
            return Published(remote_id=None)
        return Published(remote_id=str(post_id), url=f"https://www.facebook.com/{post_id}")

    def delete(self, remote_id: str) -> None:
        body = self.graph(
            self.session,
            "DELETE",
            f"{self.graph_url}/{remote_id}",
            token=self.secret["page_access_token"],
            idempotent=True,
        )
        if body.get("success") is False:
            raise ConnectorError(f"Facebook did not delete post {remote_id}", permanent=True)

    def check(self) -> Ready:
        """The Page the token reaches, and the token's own report: valid, with pages_manage_posts."""
        token = self.secret["page_access_token"]
        page = self.graph(
            self.session, "GET", f"{self.graph_url}/{self.config['page_id']}", token=token, idempotent=True,
            params={"fields": "id,name"},
        )  # fmt: skip
        name = page.get("name") or page.get("id")
        if not name:
            raise ConnectorError("Facebook named no Page for page_id", permanent=False)
        try:
            debug = self.graph(
                self.session, "GET", f"{self.graph_url}/debug_token", token=token, idempotent=True,
                params={"input_token": token},
            ).get("data")  # fmt: skip
        except ConnectorError as exc:
            # Meta documents debug_token for an app token or an app developer's token; a Page
            # token obtained by anyone else may be refused (not error 190, which is the token
            # itself). The Page answered, so it is ready as far as can be told, and says so.
            if not exc.permanent or f"code {INVALID_TOKEN}" in exc.message:
                raise
            return Ready(account=f"{name} (permissions not reported: {exc.message})")
        if not isinstance(debug, dict):
            raise ConnectorError("Facebook's debug_token said nothing about the token", permanent=False)
        if debug.get("is_valid") is False:
            said = (debug.get("error") or {}).get("message") if isinstance(debug.get("error"), dict) else None
            raise ConnectorError(f"the Page token is not valid: {said or 'debug_token says so'}", permanent=True)
        scopes = tuple(str(scope) for scope in debug.get("scopes") or () if isinstance(scope, str))
        if NEEDED_PERMISSION not in scopes:
            raise ConnectorError(
                f"the Page token of {name} lacks {NEEDED_PERMISSION} (it has: {', '.join(scopes) or 'none'})",
                permanent=True,
            )
        return Ready(account=str(name), scopes=scopes, expires_at=unix_time(debug.get("expires_at")))

    def recent_posts(self, since: datetime) -> list[RemotePost]:
        """The Page feed's posts created at or after ``since``, newest first (see the module's
        note); ``remote_id`` is the ``{page-id}_{post-id}`` that ``publish`` records."""
        return graph_watch.recent(
            self.session,
            f"{self.graph_url}/{self.config['page_id']}/feed",
            token=self.secret["page_access_token"],
            params={"fields": FEED_FIELDS, "since": str(int(since.timestamp())), "limit": FEED_PAGE},
            since=since,
            needs=READ_PERMISSION,
            post=_feed_post,
            follow=_next_on_graph,
        )

    def list_native_scheduled(self) -> list[NativeScheduled]:
        """The Page's scheduled posts, following ``paging.next`` (on the Graph host only, up
        to 20 pages); content is the post's ``message`` and ``link``, where it has them."""
        token = self.secret["page_access_token"]
        found: list[NativeScheduled] = []
        url: str | None = f"{self.graph_url}/{self.config['page_id']}/scheduled_posts"
        params: dict[str, str] | None = {"fields": SCHEDULED_FIELDS}
        for _ in range(MAX_SCHEDULED_PAGES):
            if url is None or not url.startswith(f"{GRAPH_HOST}/"):
                break  # never send the token to another host
            body = self.graph(self.session, "GET", url, token=token, idempotent=True, params=params)
            params = None  # a next page's URL carries its own query
            page = body.get("data")
            if not isinstance(page, list):
                raise ConnectorError("Facebook's scheduled posts were not a list", permanent=False)
            found.extend(self._native(post) for post in page)
            paging = body.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            url = following if isinstance(following, str) and page else None
        return found

    def withdraw_native(self, item: NativeScheduled) -> NativeScheduled:
        """Delete the scheduled post; the item (its message, link and original time, as
        listed) comes back for ``restore_native``. An item with neither message nor link is
        refused rather than deleted, since it could not be put back."""
        if not (item.content.get("message") or item.content.get("link")):
            raise ConnectorError(
                f"Facebook post {item.remote_id} has no message or link to restore it from; not deleting it",
                permanent=True,
            )
        native.parse_utc(item.scheduled_at)  # a time restore can read, before deleting
        self.delete(item.remote_id)
        return item

    def restore_native(self, item: NativeScheduled) -> str:
        """Schedule the post again as a new, unpublished post with its message and link, at
        its original time, or 15 minutes from now if that time has passed or is less than 11
        minutes ahead (Facebook wants at least 10). Returns the new post's id. Facebook has no
        idempotency key: if the request got no answer, a retry may schedule it twice."""
        when = native.restore_time(
            native.parse_utc(item.scheduled_at),
            now=native.utc_now(),
            at_least=RESTORE_AT_LEAST,
            otherwise=RESTORE_OTHERWISE,
        )
        data = {
            "published": "false",
            "scheduled_publish_time": str(int(when.timestamp())),
        }
        for name in ("message", "link"):
            value = item.content.get(name)
            if isinstance(value, str) and value:
                data[name] = value
        body = self.graph(
            self.session,
            "POST",
            f"{self.graph_url}/{self.config['page_id']}/feed",
            token=self.secret["page_access_token"],
            data=data,
        )
        post_id = body.get("id")
        if not post_id:
            raise ConnectorError(
                f"Facebook accepted post {item.remote_id} again but gave no id",
                permanent=False,
                ambiguous=True,
            )
        return str(post_id)

    @staticmethod
    def _native(post: Any) -> NativeScheduled:
        """One entry of ``scheduled_posts``: ``scheduled_publish_time`` is a unix time."""
        if not isinstance(post, dict) or not post.get("id"):
            raise ConnectorError(
                f"Facebook listed a scheduled post without an id: {post!r:.200}",
                permanent=False,
            )
        when = post.get("scheduled_publish_time")
        try:
            if isinstance(when, bool) or not isinstance(when, int | float | str):
                raise TypeError(when)
            moment = datetime.fromtimestamp(float(when), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise ConnectorError(
                f"Facebook post {post['id']} has no usable scheduled_publish_time: {when!r}",
                permanent=False,
            ) from None
        content = {name: post[name] for name in ("message",) if isinstance(post.get(name), str)}
        link = FacebookConnector._attached_link(post.get("attachments"))
        if link:
            content["link"] = link
        return NativeScheduled(remote_id=str(post["id"]), scheduled_at=native.iso_utc(moment), content=content)

    @staticmethod
    def _attached_link(attachments: Any) -> str | None:
        """The link a post shares: its first ``share`` attachment's ``unshimmed_url``."""
        data = attachments.get("data") if isinstance(attachments, dict) else None
        for attachment in data if isinstance(data, list) else []:
            if isinstance(attachment, dict) and attachment.get("type") in ("share", None):
                url = attachment.get("unshimmed_url")
                if isinstance(url, str) and url:
                    return url
        return None

    @staticmethod
    def graph(
        session: requests.Session,
        method: str,
        url: str,
        *,
        token: str,
        idempotent: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One Graph API call; its JSON object, or ConnectorError read from the Graph error."""
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = session.request(method, url, headers=headers, **kwargs)
        except requests.RequestException as exc:
            raise network_error(exc, idempotent=idempotent) from exc
        try:
            check_response(response)
        except ConnectorError as exc:
            raise graph_error(exc, response) from None
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}


def unix_time(value: Any) -> datetime | None:
    """A Graph ``expires_at`` (unix seconds) as a time; 0 or nothing means it does not expire."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _feed_post(item: dict[str, Any]) -> RemotePost:
    """One Page Post (https://developers.facebook.com/docs/graph-api/reference/pagepost/)."""
    link = item.get("permalink_url")
    return RemotePost(
        remote_id=str(item["id"]),
        url=link if isinstance(link, str) and link else f"https://www.facebook.com/{item['id']}",
        text=str(item.get("message") or ""),
        posted_at=graph_watch.graph_time(item.get("created_time")),
    )


def _next_on_graph(body: dict[str, Any], _url: str, _params: dict[str, str]) -> tuple[str, None] | None:
    """``paging.next``, a URL with its own query, followed only on the Graph host: the token
    goes nowhere else."""
    paging = body.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    if isinstance(following, str) and following.startswith(f"{GRAPH_HOST}/"):
        return following, None
    return None
