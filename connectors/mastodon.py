"""Mastodon: ``POST {base_url}/api/v1/statuses`` with ``status`` and ``visibility: public``
publishes; ``DELETE {base_url}/api/v1/statuses/{id}`` deletes. Native schedules, for the
scheduler: ``GET /api/v1/scheduled_statuses`` lists them, ``PUT`` and ``DELETE``
``/api/v1/scheduled_statuses/{id}`` move and cancel one.

Media (images, or one video; https://docs.joinmastodon.org/user/posting/#media): each is
uploaded inside ``publish`` by ``POST /api/v2/media`` (multipart ``file``, and ``description``,
the alt text, a video's too; https://docs.joinmastodon.org/methods/media/#v2). 200 means
processed; 202 means still processing, and ``GET /api/v1/media/{id}`` is read (206 still
processing, 200 done, 422 could not be processed; https://docs.joinmastodon.org/methods/media/#get)
a few times a few seconds apart (``sleep``) within one attempt. Then the status carries
``media_ids``. Mastodon takes no captions file: a video's captions are not sent, and nothing
else goes in their place. An upload publishes nothing, so its 5xx or lost answer is a plain
transient failure. Media ids are kept in the progress (``media:<n>``, with ``media:<n>:of``
saying which item it was: ``connectors.media_progress``); the next attempt asks the instance
for each (``GET /api/v1/media/{id}``) and uploads again only one it no longer has (404:
Mastodon removes media never attached to a status) or that a person has since changed.

Settings: ``base_url`` (the instance, e.g. ``https://mastodon.social``). Secrets:
``access_token`` (an application token with ``write:statuses``, ``write:media`` and
``read:statuses``).

Every publish carries ``Idempotency-Key`` (the post's own key, the same on every attempt).
Mastodon de-duplicates on it for one hour
(https://docs.joinmastodon.org/methods/statuses/#create), so a publish that got a 5xx or no
answer is retried within the hour of the first attempt and is ambiguous after it
(``connectors.base.judge_publish_failure``).

For an incident (``connectors.native``), a native schedule is withdrawn by postponing it a
year (Mastodon keeps the status and its media) and restored by moving it back.

Readiness: ``GET /api/v1/accounts/verify_credentials`` names the account the token acts as
(401 for a revoked token: permanent). Mastodon allows 300 requests per 5 minutes per account.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import requests

from connectors import native
from connectors.base import (
    WATCH_PAGES,
    Connector,
    ConnectorError,
    OutgoingMedia,
    OutgoingPost,
    Published,
    Ready,
    RemotePost,
    Setting,
    Unwatchable,
    url_host,
)
from connectors.http import check_response, network_error, new_session
from connectors.media_progress import fingerprint, kept_id, label
from connectors.native import NativeScheduled
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy

MAX_PAGES = 50  # 40 scheduled statuses a page
# How far a withdrawn status is postponed. Mastodon allows 25 scheduled statuses a day (also
# checked when one is moved), so each keeps its own time of day and date, a year on: the
# postponed ones are spread over the days exactly as they were.
POSTPONE = timedelta(days=365)
# Mastodon refuses a time less than 5 minutes ahead; a restore never asks for less than this.
RESTORE_AT_LEAST = timedelta(minutes=6)
# Reads of a media attachment's state within one attempt, and the wait between them: an image
# is processed at once, a video may take minutes, which later attempts wait out instead.
STATUS_READS = 4
STATUS_INTERVAL = 3.0
STILL_PROCESSING_RETRY = 60.0
READY, PROCESSING, GONE = "ready", "processing", "gone"


class MastodonConnector(Connector):
    kind = "mastodon"
    settings = (Setting("base_url", url=True),)
    secrets = ("access_token",)
    deduplicates_publish_for = timedelta(hours=1)

    @classmethod
    def destination(cls, settings: Mapping[str, Any]) -> str:
        return url_host(str(settings.get("base_url") or ""))

    def __init__(
        self, settings: Mapping[str, Any], secrets: Mapping[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        super().__init__(settings, secrets, outbound=outbound)
        self.session = new_session(outbound=self.outbound)
        self.base = str(self.config["base_url"]).rstrip("/")
        self.headers = {"Authorization": f"Bearer {self.secret['access_token']}"}
        # The token's own account id (from verify_credentials), asked once per connector.
        self._account_id: str | None = None
        # How the connector waits between media status reads (tests pass one that does not sleep).
        self.sleep: Callable[[float], None] = time.sleep

    def publish(self, post: OutgoingPost) -> Published:
        # What earlier attempts uploaded, carried on (and updated) into every failure below.
        progress = {key: value for key, value in post.progress.items() if key.startswith("media:")}
        try:
            media_ids = [self._attachment(index, item, progress) for index, item in enumerate(post.media)]
            response = self._send(
                "POST",
                "/api/v1/statuses",
                # Sent but unanswered is ambiguous here; the key's window may excuse it (base).
                idempotent=False,
                json={"status": post.body, "visibility": "public", **({"media_ids": media_ids} if media_ids else {})},
                headers={**self.headers, "Idempotency-Key": post.idempotency_key},
            )
        except ConnectorError as exc:
            exc.progress = {**progress, **exc.progress}
            raise
        status = self._json(response)
        if not isinstance(status, dict) or status.get("id") is None:
            return Published(remote_id=None)
        return Published(remote_id=str(status["id"]), url=status.get("url"))

    def _attachment(self, index: int, item: OutgoingMedia, progress: dict[str, str]) -> str:
        """The item's media id once Mastodon has processed it: the one an earlier attempt
        uploaded if the instance still has it, else a new upload (kept in ``progress``)."""
        key = f"media:{index}"
        media_id = kept_id(progress, index, item)
        state, reads = (self._media_state(index, item, media_id), 1) if media_id else (GONE, 0)
        if state == GONE:
            media_id, state = self._upload(index, item)
            progress[key], progress[f"{key}:of"] = media_id, fingerprint(item)
        while state == PROCESSING:
            if reads >= STATUS_READS:
                raise ConnectorError(
                    f"{label(index, item)} was uploaded to Mastodon and is still being processed; "
                    "it is tried again later",
                    permanent=False,
                    retry_after=STILL_PROCESSING_RETRY,
                )
            self.sleep(STATUS_INTERVAL)
            state = self._media_state(index, item, media_id)
            reads += 1
        if state == GONE:  # removed while processing: the next attempt uploads it again
            raise ConnectorError(f"{label(index, item)} vanished from Mastodon while processing", permanent=False)
        return media_id

    def _upload(self, index: int, item: OutgoingMedia) -> tuple[str, str]:
        """``POST /api/v2/media``: the file and its alt text (``description``); 200 is
        processed, 202 still processing (https://docs.joinmastodon.org/methods/media/#v2)."""
        with open(item.path, "rb") as handle:
            response = self._before_publishing(
                index, item, "POST", "/api/v2/media", refused="Mastodon refused it: ",
                files={"file": (f"{item.kind}-{index + 1}", handle, item.mime)},
                data={"description": item.alt_text},
            )  # fmt: skip
        attachment = self._json(response)
        media_id = attachment.get("id") if isinstance(attachment, dict) else None
        if media_id is None:
            raise ConnectorError(f"{label(index, item)}: Mastodon gave the upload no media id", permanent=False)
        return str(media_id), PROCESSING if response.status_code == 202 else READY

    def _media_state(self, index: int, item: OutgoingMedia, media_id: str) -> str:
        """``GET /api/v1/media/{id}`` (https://docs.joinmastodon.org/methods/media/#get): 200
        processed, 206 still processing, 404 gone (Mastodon removes media never attached to a
        status), 422 could not be processed (permanent, and uploaded again next time)."""
        try:
            response = self._before_publishing(index, item, "GET", f"/api/v1/media/{media_id}")
        except ConnectorError as exc:
            if exc.status == 404:
                return GONE
            if exc.status == 422:
                said = exc.message.removeprefix(f"{label(index, item)}: ")
                raise ConnectorError(
                    f"{label(index, item)}: Mastodon could not process the file; check that it opens, "
                    f"or choose another ({said})",
                    permanent=True,
                    status=422,
                    progress={f"media:{index}": ""},
                ) from exc
            raise
        return PROCESSING if response.status_code == 206 else READY

    def _before_publishing(
        self, index: int, item: OutgoingMedia, method: str, path: str, *, refused: str = "", **kwargs: Any
    ) -> requests.Response:
        """A media call: it stores media, unattached and invisible, and publishes nothing, so a
        5xx or a lost answer is only "later", never "may be live". Failures name the item, a
        permanent one after ``refused``."""
        try:
            return self._send(method, path, headers=self.headers, idempotent=True, **kwargs)
        except ConnectorError as exc:
            # The one rule (connectors.base) reads a 5xx status as "may be live"; the message
            # keeps the status for people.
            server_error = (exc.status or 0) >= 500
            raise ConnectorError(
                f"{label(index, item)}: {refused if exc.permanent else ''}{exc.message}",
                permanent=exc.permanent,
                retry_after=exc.retry_after,
                status=None if server_error else exc.status,
            ) from exc

    def delete(self, remote_id: str) -> None:
        try:
            self._send("DELETE", f"/api/v1/statuses/{remote_id}", headers=self.headers, idempotent=True)
        except ConnectorError as exc:
            # 404 is Mastodon's answer for a status that no longer exists
            # (https://docs.joinmastodon.org/methods/statuses/#delete): gone is what we wanted,
            # and a repeat of a deletion whose answer was lost ends here too.
            if exc.status != 404:
                raise

    def check(self) -> Ready:
        """Who the token acts as, from ``verify_credentials``."""
        response = self._send("GET", "/api/v1/accounts/verify_credentials", headers=self.headers, idempotent=True)
        account = self._json(response)
        acct = account.get("acct") if isinstance(account, dict) else None
        if not acct:
            raise ConnectorError("Mastodon's verify_credentials named no account", permanent=False)
        host = urlsplit(self.base).hostname or ""
        return Ready(account=f"@{acct}" if "@" in str(acct) else f"@{acct}@{host}")

    def account_id(self) -> str:
        """The id of the account the token acts as (``verify_credentials``), kept once asked."""
        if self._account_id is None:
            response = self._send("GET", "/api/v1/accounts/verify_credentials", headers=self.headers, idempotent=True)
            account = self._json(response)
            found = account.get("id") if isinstance(account, dict) else None
            if found is None:
                raise ConnectorError("Mastodon's verify_credentials named no account id", permanent=False)
            self._account_id = str(found)
        return self._account_id

    def recent_posts(self, since: datetime) -> list[RemotePost]:
        """The account's own statuses (boosts left out) created at or after ``since``, newest
        first: ``GET /api/v1/accounts/:id/statuses?exclude_reblogs=true&limit=40``
        (https://docs.joinmastodon.org/methods/accounts/#statuses), following ``Link:
        rel="next"`` (``max_id``) on this instance only, at most ``WATCH_PAGES`` pages. The
        text is the status's HTML ``content`` as plain text. Needs ``read:statuses``; a public
        account's statuses are listed even without it. 300 requests per 5 minutes per account."""
        found: list[RemotePost] = []
        url: str | None = f"{self.base}/api/v1/accounts/{self.account_id()}/statuses?exclude_reblogs=true&limit=40"
        for _ in range(WATCH_PAGES):
            if url is None:
                break
            try:
                response = self._send(
                    "GET", self._on_this_instance(url, "statuses"), headers=self.headers, idempotent=True
                )
            except ConnectorError as exc:
                if exc.status == 403:  # "This action is outside the authorized scopes"
                    raise Unwatchable(
                        f"Mastodon refused to list the account's statuses ({exc.message}); "
                        "the token needs read:statuses",
                        status=403,
                    ) from exc
                raise
            page = self._json(response)
            if not isinstance(page, list):
                raise ConnectorError("Mastodon's statuses were not a list", permanent=False)
            older = False
            for status in page:
                post = _remote_post(status)
                if post.posted_at < since:
                    older = True
                    continue
                found.append(post)
            if older or not page:
                break
            url = response.links.get("next", {}).get("url")
        found.sort(key=lambda post: post.posted_at, reverse=True)
        return found

    def list_scheduled(self) -> list[dict[str, Any]]:
        """Every scheduled status, following the ``Link: rel="next"`` pages on this instance."""
        found: list[dict[str, Any]] = []
        url: str | None = f"{self.base}/api/v1/scheduled_statuses?limit=40"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self._send(
                "GET", self._on_this_instance(url, "scheduled statuses"), headers=self.headers, idempotent=True
            )
            page = self._json(response)
            if not isinstance(page, list):
                raise ConnectorError("Mastodon's scheduled statuses were not a list", permanent=False)
            found.extend(item for item in page if isinstance(item, dict))
            url = response.links.get("next", {}).get("url") if page else None
        return found

    def _on_this_instance(self, link: str, listing: str) -> str:
        """A page link as a URL on ``base_url``'s own origin (however the host is spelled); an
        error, not a silently short listing, if it points anywhere else: the token goes only
        to the instance it was given for."""
        home, target = urlsplit(self.base), urlsplit(link)
        if _origin(target) != _origin(home):
            where = f"{target.scheme}://{target.netloc.rpartition('@')[2]}"
            raise ConnectorError(
                f"Mastodon's next page of {listing} is at {where}, not on base_url "
                f"{home.scheme}://{home.netloc}; the listing stops there: set base_url to the address "
                "the instance's API answers on",
                permanent=True,
            )
        return urlunsplit((home.scheme, home.netloc, target.path, target.query, ""))

    def reschedule(self, scheduled_id: str, scheduled_at: str) -> None:
        """Move a scheduled status (Mastodon wants it at least 5 minutes ahead)."""
        self._send(
            "PUT",
            f"/api/v1/scheduled_statuses/{scheduled_id}",
            headers=self.headers,
            json={"scheduled_at": scheduled_at},
            idempotent=True,
        )

    def cancel_scheduled(self, scheduled_id: str) -> None:
        self._send(
            "DELETE",
            f"/api/v1/scheduled_statuses/{scheduled_id}",
            headers=self.headers,
            idempotent=True,
        )

    def list_native_scheduled(self) -> list[NativeScheduled]:
        """Every scheduled status, with its ``params`` (text, visibility, media_ids, ...)."""
        items = []
        for status in self.list_scheduled():
            remote_id, scheduled_at = status.get("id"), status.get("scheduled_at")
            params = status.get("params")
            if remote_id is None or not isinstance(scheduled_at, str):
                raise ConnectorError(
                    f"Mastodon listed a scheduled status without id or time: {status!r:.200}",
                    permanent=False,
                )
            items.append(
                NativeScheduled(
                    remote_id=str(remote_id),
                    scheduled_at=scheduled_at,
                    content=dict(params) if isinstance(params, Mapping) else {},
                )
            )
        return items

    def withdraw_native(self, item: NativeScheduled) -> NativeScheduled:
        """Postpone the status by a year from its original time (from now, if that has
        passed); the item comes back unchanged, with its original ``scheduled_at``, for
        ``restore_native``. Safe to repeat."""
        original = native.parse_utc(item.scheduled_at)
        postponed = max(original, native.utc_now()) + POSTPONE
        self.reschedule(item.remote_id, native.iso_utc(postponed))
        return item

    def restore_native(self, item: NativeScheduled) -> str:
        """Move the status back to its original time. If that time has passed, or is less
        than 6 minutes ahead (Mastodon wants at least 5), it goes out 6 minutes from now
        instead. Returns its id, which does not change. Safe to repeat."""
        original = native.parse_utc(item.scheduled_at)
        now = native.utc_now()
        when = native.restore_time(original, now=now, at_least=RESTORE_AT_LEAST, otherwise=RESTORE_AT_LEAST)
        self.reschedule(item.remote_id, item.scheduled_at if when == original else native.iso_utc(when))
        return item.remote_id

    def _send(self, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}{path}"
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise network_error(exc, idempotent=idempotent) from exc
        try:
            return check_response(response)
        except ConnectorError as exc:
            if exc.status == 429 and exc.retry_after is None:
                exc.retry_after = self._reset_in(response)
            raise

    @staticmethod
    def _reset_in(response: requests.Response) -> float | None:
        """Mastodon's 429 gives ``X-RateLimit-Reset`` as an ISO 8601 time, not seconds."""
        try:
            reset = datetime.fromisoformat(response.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return None
        return max(0.0, reset.timestamp() - time.time())

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None


def _origin(url: SplitResult) -> tuple[str, str, int | None]:
    """Scheme, host and port as a browser compares them: case-blind, the default port filled in."""
    scheme = url.scheme.lower()
    try:
        port = url.port or {"https": 443, "http": 80}.get(scheme)
    except ValueError:
        port = -1  # an unreadable port matches no origin
    return scheme, url.hostname or "", port


def _remote_post(status: Any) -> RemotePost:
    """A Status entity (https://docs.joinmastodon.org/entities/Status/) as a RemotePost."""
    if not isinstance(status, dict) or status.get("id") is None or not isinstance(status.get("created_at"), str):
        raise ConnectorError(f"Mastodon listed a status without id or time: {status!r:.200}", permanent=False)
    return RemotePost(
        remote_id=str(status["id"]),
        url=status.get("url") if isinstance(status.get("url"), str) else None,
        text=_plain(str(status.get("content") or "")),
        posted_at=native.parse_utc(status["created_at"]),
    )


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _plain(content: str) -> str:
    """A status's HTML ``content`` as the text a person typed (paragraphs and line breaks kept)."""
    parser = _Text()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()
