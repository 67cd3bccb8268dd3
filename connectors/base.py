"""The one small contract every connector keeps: publish a post, delete it, fail in one way."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

from connectors.outbound import PUBLIC_ONLY, OutboundPolicy


@dataclass(frozen=True)
class Setting:
    """One non-secret setting of a connector kind (kept in the account's ``connector``)."""

    name: str
    required: bool = True
    url: bool = False
    # A credential given with the settings (a Slack or Teams hook URL): kept as a secret, and
    # shown only masked (``connectors.settings.mask_url``) where the settings are shown.
    secret: bool = False
    # A URL the platform fetches itself (Instagram's image_url): Lockdown never connects to it,
    # so the outbound policy cannot judge it at send time; it must at least not name this
    # machine or a private network, which the platform could never reach anyway.
    fetched_by_platform: bool = False


@dataclass(frozen=True)
class OutgoingMedia:
    """One image or video to go with a post: a file Lockdown checked by its content and stored
    (images re-encoded without EXIF), with what the accessibility rule (policy 2.2.4) asked of it.
    A connector reads ``path`` and uploads it by the platform's own flow, inside ``publish``."""

    kind: str  # "image" or "video"
    path: str  # the stored file, readable by this process
    mime: str  # image/jpeg, image/png, image/webp, image/gif or video/mp4
    size: int  # bytes
    sha256: str
    width: int
    height: int
    duration: float | None = None  # seconds, a video's only
    alt_text: str = ""
    # A video's captions: the same cues as WebVTT and as SubRip (whichever was given, the other
    # converted), for the platform that takes one or the other; None when it is live.
    captions_vtt: str | None = None
    captions_srt: str | None = None
    captions_lang: str = "en"
    # A live or immediate clip (no captions file): where its full transcript can be had.
    live: bool = False
    transcript_contact: str = ""
    # A signed address, expiring soon, at which Lockdown serves this file to the public
    # (LOCKDOWN_PUBLIC_URL), for a platform that fetches media itself (Instagram); None when
    # the installation has no public address.
    public_url: str | None = None

    def read(self) -> bytes:
        """The file's bytes (media are a few megabytes; a video is read in chunks instead)."""
        with open(self.path, "rb") as handle:
            return handle.read()


@dataclass(frozen=True)
class OutgoingPost:
    """What a connector is given to publish: nothing from the database but this."""

    post_id: int
    account_id: int
    handle: str
    platform: str
    body: str
    scheduled_at: str
    idempotency_key: str
    # What an earlier, interrupted attempt achieved (e.g. an Instagram container id).
    progress: Mapping[str, str] = field(default_factory=dict)
    # When the first attempt since the post was (re)scheduled, and this attempt, were marked as
    # sending: the platform may have seen the idempotency key since ``first_sent_at``, and a
    # de-duplicating platform keeps it only so long. None: no earlier attempt is known.
    first_sent_at: datetime | None = None
    sending_at: datetime | None = None
    # The images or video, in the order they are shown; uploaded by ``publish`` (so never for
    # a held account: the send mark comes first). Their ids on the platform may be kept in
    # ``progress`` so a retry does not upload them again.
    media: tuple[OutgoingMedia, ...] = ()


@dataclass(frozen=True)
class Ready:
    """What a readiness check found: who the platform says the credentials act as, the
    permissions it reports for them, and when the token ends where it says (None: it did not say,
    or the token does not expire)."""

    account: str
    scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Published:
    """The platform accepted the post."""

    remote_id: str | None
    url: str | None = None


@dataclass(frozen=True)
class RemotePost:
    """A post the platform shows on the account, whoever made it."""

    remote_id: str  # the same id form publish() returns as Published.remote_id for this platform
    url: str | None
    text: str
    posted_at: datetime  # aware UTC


class ConnectorError(Exception):
    """Every connector failure. ``permanent``: do not try again. ``ambiguous``: the platform
    may have published it (the request was sent, no answer came back), so a person decides.
    Neither: safe to try again later, not before ``retry_after`` seconds if given."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        ambiguous: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        progress: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.status = status
        self.progress = dict(progress or {})

    def __repr__(self) -> str:
        kind = "permanent" if self.permanent else "ambiguous" if self.ambiguous else "transient"
        return f"ConnectorError({kind}, status={self.status}, {self.message!r})"


class Unwatchable(ConnectorError):
    """The account's posts cannot be listed (no read permission, reads opted out, no API):
    permanent, with the reason."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, permanent=True, status=status)


# How many pages one ``recent_posts`` call reads at most; past that it returns what it has
# (newest first), so a burst of posts costs a bounded number of requests per poll.
WATCH_PAGES = 5


def url_host(url: str) -> str:
    """A URL's host as secrets are bound to it: lower case, with the port if one is given."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


# The progress entry left when a de-duplicated publish got a 5xx or no answer and is retried:
# its value is the first attempt's time, so a retry after the window is refused before it is
# sent. An entry from before a person rescheduled the post names another time and is ignored.
UNANSWERED = "unanswered_since"


def may_have_acted(exc: ConnectorError) -> bool:
    """Whether the platform may have acted on a request that failed: it was sent and no answer
    came back (``ambiguous``), or a 5xx did. Failures before sending, 4xx and 429 say it did not."""
    return not exc.permanent and (exc.ambiguous or (exc.status or 0) >= 500)


def within_window(post: OutgoingPost, window: timedelta | None) -> bool:
    """Whether the platform still de-duplicates this attempt against the first one."""
    if window is None:
        return False
    if post.first_sent_at is None or post.sending_at is None:
        return True  # nothing earlier: this attempt is the first to carry the key
    return post.sending_at - post.first_sent_at <= window


def _first_attempt(post: OutgoingPost) -> str:
    moment = post.first_sent_at or post.sending_at
    return moment.isoformat() if moment else "unrecorded"


def judge_publish_failure(exc: ConnectorError, post: OutgoingPost, window: timedelta | None) -> ConnectorError:
    """The one rule for a failed publish: once the request may have reached the platform, a
    retry is safe only if the platform de-duplicates it (``window``); otherwise, or once the
    window has passed, the failure is ambiguous and a person settles it."""
    if not may_have_acted(exc):
        return exc
    if within_window(post, window):
        exc.ambiguous = False
        exc.progress.setdefault(UNANSWERED, _first_attempt(post))
    else:
        exc.ambiguous = True
    return exc


def refuse_unsafe_retry(post: OutgoingPost, window: timedelta | None) -> None:
    """Raise an ambiguous ConnectorError, without sending, when an earlier attempt of this post
    may be live and the platform no longer de-duplicates a repeat."""
    mark = post.progress.get(UNANSWERED)
    if mark is None or mark != _first_attempt(post) or within_window(post, window):
        return
    raise ConnectorError(
        f"an attempt since {mark} got no clear answer and the platform de-duplicates a repeat for "
        f"{_describe(window)} only, so it is not sent again",
        permanent=False,
        ambiguous=True,
    )


def _describe(window: timedelta | None) -> str:
    if window is None:
        return "no time at all"
    hours, seconds = divmod(int(window.total_seconds()), 3600)
    if hours == 1 and not seconds:
        return "one hour"
    return f"{hours} hours" if not seconds else f"{int(window.total_seconds())} seconds"


def _judged(publish: Callable[[Connector, OutgoingPost], Published]) -> Callable[[Connector, OutgoingPost], Published]:
    @functools.wraps(publish)
    def judged(self: Connector, post: OutgoingPost) -> Published:
        refuse_unsafe_retry(post, self.deduplicates_publish_for)
        try:
            return publish(self, post)
        except ConnectorError as exc:
            judge_publish_failure(exc, post, self.deduplicates_publish_for)
            raise

    judged.__judged__ = True  # type: ignore[attr-defined]
    return judged


class Connector(ABC):
    """One platform. Built per send from the account's settings and decrypted secrets."""

    kind: ClassVar[str]
    settings: ClassVar[tuple[Setting, ...]] = ()
    secrets: ClassVar[tuple[str, ...]] = ()
    # The host a fixed-address platform's secrets go to; a connector whose host is a setting
    # overrides ``destination``.
    host: ClassVar[str] = ""
    # How long the platform de-duplicates a repeated publish (the same idempotency key); None:
    # it does not, so a publish that may have reached it is never sent again blindly.
    deduplicates_publish_for: ClassVar[timedelta | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every publish, whoever calls it (the dispatcher, incident messages), is judged by the
        # one rule: a connector cannot forget it, and needs to say nothing but its window.
        super().__init_subclass__(**kwargs)
        publish = cls.__dict__.get("publish")
        if publish is not None and not getattr(publish, "__judged__", False):
            setattr(cls, "publish", _judged(publish))  # noqa: B010 - a method on a class being made

    @classmethod
    def destination(cls, settings: Mapping[str, Any]) -> str:
        """The host (and port) this connector sends its secrets to, with these settings: a
        stored secret is valid for this and the kind only."""
        return cls.host

    def __init__(
        self, settings: Mapping[str, Any], secrets: Mapping[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        # Where this connector may connect: public addresses only unless the caller allows more.
        self.outbound = outbound
        missing = [name for name in self.secrets if not secrets.get(name)]
        if missing:
            raise ConnectorError(
                f"the {self.kind} connector has no {', '.join(missing)} in the vault",
                permanent=True,
            )
        absent = [s.name for s in self.settings if s.required and not settings.get(s.name)]
        if absent:
            raise ConnectorError(f"{self.kind} needs the setting {', '.join(absent)}", permanent=True)
        self.config = dict(settings)
        self.secret = dict(secrets)

    @abstractmethod
    def publish(self, post: OutgoingPost) -> Published:
        """Publish the post, or raise ConnectorError."""

    @abstractmethod
    def delete(self, remote_id: str) -> None:
        """Delete a post this connector published, or raise ConnectorError."""

    @abstractmethod
    def check(self) -> Ready:
        """One cheap authenticated read that says whether a post would be accepted now; publishes
        nothing. Raise ConnectorError when not ready: permanent when a person must fix it (a
        revoked or expired token, a missing permission), transient when it may pass later (a 5xx,
        a timeout, a rate limit)."""

    def recent_posts(self, since: datetime) -> list[RemotePost]:
        """The posts the platform shows on this account created at or after ``since`` (aware),
        newest first, whoever made them, with the same ``remote_id`` form ``publish`` returns.
        Follows the platform's pages until a post is older than ``since``, but reads at most
        ``WATCH_PAGES`` pages a call and then returns what it has (the newest). Raises
        ConnectorError (a 429 transient with ``retry_after``) or Unwatchable when the account's
        posts cannot be listed at all. A connector that can list posts overrides this."""
        raise Unwatchable("this connector cannot list posts")

    def close(self) -> None:
        """Release the HTTP session's connections (a connector is built for each send)."""
        session = getattr(self, "session", None)
        if session is not None:
            session.close()
