"""X (formerly Twitter), API v2 through tweepy's ``Client`` with OAuth 1.0a user context:
``POST /2/tweets`` (``create_tweet``) publishes, ``DELETE /2/tweets/{id}`` (``delete_tweet``)
deletes. tweepy calls the host ``https://api.twitter.com``.

Media (images, or one video, as the dispatcher hands them: up to 4 images or 1 video or GIF a
post, https://docs.x.com/x-api/media/quickstart/best-practices) are uploaded inside ``publish``
by X API v2's own upload (``connectors.x_media``: ``POST /2/media/upload`` for an image,
``/2/media/upload/initialize``, ``/{id}/append``, ``/{id}/finalize`` and
``GET /2/media/upload?command=STATUS`` for a video or GIF, ``POST /2/media/metadata`` for the
alt text, the SubRip captions as ``subtitles`` media tied by ``POST /2/media/subtitles``), signed
with the same OAuth 1.0a user tokens on tweepy's session, never tweepy's v1.1
``API.media_upload`` (a retired endpoint). Their ids go in the post's ``media.media_ids``. An
upload publishes nothing, so its 5xx or lost answer is only transient; what was uploaded is kept
in the progress (``media:<n>``...) and reused by the next attempt while X keeps it.

Settings: none. Secrets: ``consumer_key`` and ``consumer_secret`` (the app's API key and
secret), ``access_token`` and ``access_token_secret`` (the account's, read and write).

tweepy sends without a timeout, so the timeout adapter is mounted on tweepy's own session; it
never sleeps on a rate limit here (``wait_on_rate_limit=False``): a 429 is a transient error
whose ``retry_after`` comes from ``x-rate-limit-reset``, or from the 24-hour posting limit's
reset (``x-user-limit-24hour-reset``, ``x-app-limit-24hour-reset``) when that limit is spent.
X has no idempotency key, so a request that was sent but got no answer is ambiguous.

Readiness: ``GET /2/users/me`` (``get_me``, OAuth 1.0a user context) names the account the
tokens act as; X answers OAuth 1.0a calls with ``x-access-level`` (``read``, ``read-write``,
``read-write-directmessages``), and a token that may only read cannot post: not ready. The
endpoint allows 75 requests per 15 minutes per user; a check every few hours is far within it.

The watch (``recent_posts``): ``GET /2/users/:id/tweets`` (``get_users_tweets``, the user id
from ``GET /2/users/me``, asked once per connector). X bills reads per post returned, so an
account is watched only when its setting ``watch_reads`` is ``yes``; otherwise ``recent_posts``
raises Unwatchable and sends nothing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy

from connectors.base import (
    WATCH_PAGES,
    Connector,
    ConnectorError,
    OutgoingPost,
    Published,
    Ready,
    RemotePost,
    Setting,
    Unwatchable,
)
from connectors.http import TRANSIENT_4XX, network_error, new_session, retry_after_seconds
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy
from connectors.x_media import CHUNK, MediaUploader

# The most posts one page of GET /2/users/:id/tweets returns.
PAGE = 100
OPTED_OUT = "X reads are billed per post; opted out"

# The 24-hour posting limits, per user and per app, beside the 15-minute window.
DAILY_LIMITS = ("x-user-limit-24hour", "x-app-limit-24hour")


def daily_limit_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the latest spent 24-hour posting limit resets, or None if none is spent."""
    waits = [
        max(0.0, float(headers[f"{prefix}-reset"]) - now)
        for prefix in DAILY_LIMITS
        if headers.get(f"{prefix}-remaining", "").strip() == "0"
        and headers.get(f"{prefix}-reset", "").strip().isdigit()
    ]
    return max(waits, default=None)


class XConnector(Connector):
    kind = "x"
    host = "api.twitter.com"
    # "yes" lets the watch read the account's posts, which X bills per post returned.
    settings = (Setting("watch_reads", required=False),)
    secrets = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")

    def __init__(
        self, settings: Mapping[str, Any], secrets: Mapping[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        super().__init__(settings, secrets, outbound=outbound)
        self.client = tweepy.Client(
            consumer_key=self.secret["consumer_key"],
            consumer_secret=self.secret["consumer_secret"],
            access_token=self.secret["access_token"],
            access_token_secret=self.secret["access_token_secret"],
            wait_on_rate_limit=False,
        )
        # tweepy sends without a timeout: mount the timeout adapter on tweepy's own session.
        self.session = new_session(self.client.session, outbound=self.outbound)
        self._user_id: str | None = None
        # How the media upload waits between status reads and tells the time (tests pass their own).
        self.sleep: Callable[[float], None] = time.sleep
        self.clock: Callable[[], float] = time.time
        self.chunk_size = CHUNK

    def publish(self, post: OutgoingPost) -> Published:
        # What earlier attempts uploaded, carried on (and updated) into every failure below.
        progress = {key: value for key, value in post.progress.items() if key.startswith("media:")}
        try:
            media_ids = self._media(progress).media_ids(post.media) if post.media else None
            response = self._call(
                lambda: self.client.create_tweet(text=post.body, media_ids=media_ids, user_auth=True),
                idempotent=False,
            )
        except ConnectorError as exc:
            exc.progress = {**progress, **exc.progress}
            raise
        tweet_id = (response.data or {}).get("id")
        if tweet_id is None:
            return Published(remote_id=None)
        return Published(remote_id=str(tweet_id), url=f"https://x.com/i/web/status/{tweet_id}")

    def _media(self, progress: dict[str, str]) -> MediaUploader:
        """The media uploader, on tweepy's session and signed with the same user tokens."""
        auth = tweepy.OAuth1UserHandler(
            self.secret["consumer_key"], self.secret["consumer_secret"],
            self.secret["access_token"], self.secret["access_token_secret"],
        ).apply_auth()  # fmt: skip
        return MediaUploader(
            self.session, auth, progress, read_error=self._http_error, sleep=self.sleep, clock=self.clock,
            chunk_size=self.chunk_size,
        )  # fmt: skip

    def delete(self, remote_id: str) -> None:
        # Deleting twice deletes nothing more, so a lost answer is safe to try again.
        response = self._call(lambda: self.client.delete_tweet(remote_id, user_auth=True), idempotent=True)
        if not (response.data or {}).get("deleted"):
            raise ConnectorError(f"X did not say post {remote_id} was deleted", permanent=True)

    def check(self) -> Ready:
        """Who the tokens act as (``GET /2/users/me``), refused when the token may only read."""
        seen: list[requests.Response] = []

        def keep(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            seen.append(response)

        self.session.hooks["response"].append(keep)
        try:
            response = self._call(lambda: self.client.get_me(user_auth=True), idempotent=True)
        finally:
            self.session.hooks["response"].remove(keep)
        username = getattr(response.data, "username", None)
        if not username:
            raise ConnectorError("X's users/me named no account", permanent=False)
        level = seen[-1].headers.get("x-access-level", "").strip() if seen else ""
        if level and "write" not in level.split("-"):
            raise ConnectorError(
                f"the X access token of @{username} may only read (x-access-level: {level}); "
                "give the app read and write permission and issue the token again",
                permanent=True,
            )
        return Ready(account=f"@{username}", scopes=(level,) if level else ())

    def recent_posts(self, since: datetime) -> list[RemotePost]:
        """The account's posts created at or after ``since``, newest first:
        ``GET /2/users/:id/tweets`` with ``start_time`` (whole seconds, inclusive),
        ``max_results=100`` and ``tweet.fields=created_at``, following ``meta.next_token`` as
        ``pagination_token`` for at most ``WATCH_PAGES`` pages
        (https://docs.x.com/x-api/users/get-posts). Only when the setting ``watch_reads`` is
        ``yes``: X bills every post returned. A 403 (the app's access does not include reading
        posts) is Unwatchable."""
        if str(self.config.get("watch_reads") or "").strip().lower() != "yes":
            raise Unwatchable(OPTED_OUT)
        user_id = self.user_id()
        start = since.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        found: list[RemotePost] = []
        token: str | None = None
        for _ in range(WATCH_PAGES):
            params: dict[str, Any] = {"start_time": start, "max_results": PAGE, "tweet_fields": ["created_at"]}
            if token:
                params["pagination_token"] = token
            try:
                response = self._call(
                    functools.partial(self.client.get_users_tweets, user_id, user_auth=True, **params),
                    idempotent=True,
                )
            except ConnectorError as exc:
                if exc.status == 403:
                    raise Unwatchable(
                        f"X refused to list the account's posts ({exc.message}); the app's access must include "
                        "reading posts",
                        status=403,
                    ) from exc
                raise
            for tweet in response.data or ():
                posted_at = _aware(tweet.created_at)
                if posted_at >= since:
                    found.append(
                        RemotePost(
                            remote_id=str(tweet.id),
                            url=f"https://x.com/i/web/status/{tweet.id}",
                            text=str(tweet.text or ""),
                            posted_at=posted_at,
                        )
                    )
            token = (response.meta or {}).get("next_token")
            if not token:
                break
        found.sort(key=lambda post: post.posted_at, reverse=True)
        return found

    def user_id(self) -> str:
        """The id of the user the tokens act as (``GET /2/users/me``), kept once asked."""
        if self._user_id is None:
            response = self._call(lambda: self.client.get_me(user_auth=True), idempotent=True)
            found = getattr(response.data, "id", None)
            if found is None:
                raise ConnectorError("X's users/me named no user id", permanent=False)
            self._user_id = str(found)
        return self._user_id

    @staticmethod
    def _call(request: Callable[[], Any], *, idempotent: bool) -> Any:
        """Run one tweepy call, every failure turned into ConnectorError."""
        try:
            return request()
        except tweepy.HTTPException as exc:
            raise XConnector._http_error(exc) from exc
        except requests.JSONDecodeError as exc:
            # tweepy reads the body only after a 2xx: X took the request, its answer is garbled.
            raise ConnectorError(
                f"X accepted the request but its answer could not be read: {exc}",
                permanent=False,
                ambiguous=not idempotent,
            ) from exc
        except requests.RequestException as exc:
            raise network_error(exc, idempotent=idempotent) from exc

    @staticmethod
    def _http_error(exc: Any) -> ConnectorError:
        status: int = exc.response.status_code
        said = "; ".join(str(message) for message in exc.api_messages) or str(exc)
        transient = isinstance(exc, tweepy.TooManyRequests | tweepy.TwitterServerError) or (
            status in TRANSIENT_4XX or status >= 500
        )
        retry_after = None
        if transient:
            # A 429 for a spent daily limit also carries the 15-minute reset, which would
            # only bring six futile retries before the day's window opens again.
            waits = [retry_after_seconds(exc.response), daily_limit_wait(exc.response.headers, time.time())]
            retry_after = max((wait for wait in waits if wait is not None), default=None)
        return ConnectorError(f"HTTP {status}: {said}", permanent=not transient, status=status, retry_after=retry_after)


def _aware(moment: Any) -> datetime:
    """A post's ``created_at`` (tweepy parses it) as an aware UTC datetime."""
    if not isinstance(moment, datetime):
        raise ConnectorError(f"X listed a post without created_at: {moment!r}", permanent=False)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
