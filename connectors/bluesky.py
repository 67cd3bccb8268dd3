"""Bluesky (AT Protocol) through the ``atproto`` package: ``com.atproto.repo.createRecord``
writes an ``app.bsky.feed.post`` record (with facets for links, mentions and hashtags, and an
embed for images or a video, uploaded first with ``com.atproto.repo.uploadBlob``) and
returns its ``at://`` URI; ``com.atproto.repo.deleteRecord`` deletes it by the URI's last
segment; ``com.atproto.server.getSession`` is the readiness check.

Settings: ``identifier`` (the handle, e.g. ``livuni.bsky.social``, or the DID) and
``service_url`` (optional, the PDS; default ``https://bsky.social``). Secrets:
``app_password`` (an app password, never the account's own).

The session is made once per account and kept (``connectors.bluesky_session``): a PDS allows
few logins. createRecord has no idempotency key: a request that got no answer may have
published the post.

Media (``connectors.bluesky_media``): each image, the video and its WebVTT captions are sent
to the account's PDS with ``com.atproto.repo.uploadBlob``, and the post's record refers to the
blobs in its one embed: ``app.bsky.embed.images`` (up to 4, each with ``alt`` and
``aspectRatio``) or ``app.bsky.embed.video`` (``alt``, ``aspectRatio``, ``captions``: the cues
as a ``text/vtt`` blob with their ``lang``). Links in the text stay clickable as facets; a link
card (``app.bsky.embed.external``) is never made, so a post with media and a link has the
media as its embed (a record has one). Media over the lexicon's limits (an image over
2,000,000 bytes, more than 4 images, a video with images, captions over 20,000 bytes) are
refused before anything is sent.

The video, and what real Bluesky does differently (https://docs.bsky.app/docs/tutorials/video):
a blob uploaded straight to the PDS is what the record may refer to (the tutorial's "simple
method"), and it is the one path any PDS serves, the reference PDS in the tests included.
Bluesky's own recommended path goes through its video service: a service token from
``com.atproto.server.getServiceAuth`` (audience the PDS's did:web, ``lxm``
``com.atproto.repo.uploadBlob``, 30 minutes), the file POSTed to
``https://video.bsky.app/xrpc/app.bsky.video.uploadVideo``, then ``app.bsky.video.getJobStatus``
polled until it gives the blob, which the service, having transcoded the video, stored on the
PDS itself with that token. What changes: on Bluesky, a video uploaded straight to the PDS is
processed only once the post appears on the firehose, so for several seconds the post shows a
missing video; through the service, it is ready when the post appears, and a video the service
cannot process fails before anything is posted. Bluesky-hosted accounts also need a verified
email and have a daily video allowance there. That path is not built, because nothing in the
tests could run it (the reference PDS has no video service) and it needs a second host,
``video.bsky.app``, outside the account's ``service_url``; the cost of its absence is the seconds
of a missing video after a post is made. A PDS also caps any one upload (``@atproto/pds``:
``PDS_BLOB_UPLOAD_LIMIT``, 5 MB by default): a video over it is refused with a 413, named.

Retry: nothing uploaded is kept in ``progress``, and every attempt uploads again. A blob no
record refers to is deleted by the PDS within a window of minutes (uploadBlob's lexicon), while
a retry may come hours later and would then fail on a missing blob. Uploading again costs only
the bytes: blobs are content-addressed (the CID is the hash of the bytes), so the PDS files the
same file under the same CID and the new attempt's record refers to the same blobs. An upload
publishes nothing (the blob is unattached and shown to nobody), so its 5xx or lost answer is a
plain transient failure; createRecord keeps the rule above.

The watch (``recent_posts``) reads ``com.atproto.repo.listRecords`` for ``app.bsky.feed.post``
on the account's own PDS through the kept session: the repository is the authority on what the
account has posted (no AppView, no index lag), and it costs nothing but the PDS's read limits.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from atproto_client import models
from atproto_client.exceptions import BadRequestError
from atproto_core.uri import AtUri

from connectors.base import (
    WATCH_PAGES,
    Connector,
    ConnectorError,
    OutgoingPost,
    Published,
    Ready,
    RemotePost,
    Setting,
    url_host,
)
from connectors.bluesky_media import media_embed, name_the_refused_item, refuse_unsendable
from connectors.bluesky_session import SESSIONS, KeptSession
from connectors.bluesky_text import check_limits, facets
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy

DEFAULT_SERVICE = "https://bsky.social"
POST = "app.bsky.feed.post"
PAGE = 100  # listRecords' largest page


class BlueskyConnector(Connector):
    kind = "bluesky"
    settings = (Setting("identifier"), Setting("service_url", required=False, url=True))
    secrets = ("app_password",)

    @classmethod
    def destination(cls, settings: Mapping[str, Any]) -> str:
        return url_host(str(settings.get("service_url") or DEFAULT_SERVICE))

    def __init__(
        self, settings: Mapping[str, Any], secrets: Mapping[str, str], *, outbound: OutboundPolicy = PUBLIC_ONLY
    ) -> None:
        super().__init__(settings, secrets, outbound=outbound)
        service = str(self.config.get("service_url") or DEFAULT_SERVICE).rstrip("/")
        self.kept: KeptSession = SESSIONS.session(
            service, str(self.config["identifier"]), self.secret["app_password"], self.outbound
        )

    def publish(self, post: OutgoingPost) -> Published:
        check_limits(post.body)
        refuse_unsendable(post.media)
        found = facets(post.body, self._resolve) or None
        # Uploaded again on every attempt, never taken from ``post.progress``: see the docstring.
        embed = media_embed(self.kept, post.media)
        record = models.AppBskyFeedPost.Record(
            text=post.body,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            facets=found,
            embed=embed,
        )
        try:
            created = self.kept.call(
                "com.atproto.repo.createRecord",
                lambda client: client.com.atproto.repo.create_record(
                    models.ComAtprotoRepoCreateRecord.Data(repo=self.kept.did, collection=POST, record=record)
                ),
                publishes=True,
            )
        except ConnectorError as exc:
            name_the_refused_item(exc, post.media)
            raise
        uri = str(created.uri)
        return Published(remote_id=uri, url=self._web_url(uri))

    def recent_posts(self, since: datetime) -> list[RemotePost]:
        """The account's posts created at or after ``since``, newest first, from its own
        repository: ``com.atproto.repo.listRecords`` (collection ``app.bsky.feed.post``, 100 a
        page, cursor paging, at most ``WATCH_PAGES`` pages). The PDS lists records newest first
        (by record key, a time-ordered TID) unless ``reverse`` is set. ``posted_at`` is the
        record's ``createdAt``, which the writer chooses; so a record counts as made since
        ``since`` when either its ``createdAt`` or the time in its TID record key (set by the
        PDS when it writes a record without a chosen key) is at or after ``since``: a post
        backdated by its writer is still listed (last, by its ``createdAt``). ``remote_id`` is
        the at:// URI, as ``publish`` gives."""
        found: list[RemotePost] = []
        cursor: str | None = None
        for _ in range(WATCH_PAGES):
            page: Any = self.kept.call("com.atproto.repo.listRecords", functools.partial(self._list, cursor=cursor))
            older = False
            for record in page.records:
                post = self._remote_post(str(record.uri), record.value)
                written = tid_time(str(record.uri).rsplit("/", 1)[-1])
                if post.posted_at >= since or (written is not None and written >= since):
                    found.append(post)
                else:
                    older = True
            cursor = page.cursor
            if older or not cursor or not page.records:
                break
        found.sort(key=lambda post: post.posted_at, reverse=True)
        return found

    def _list(self, client: Any, *, cursor: str | None) -> Any:
        return client.com.atproto.repo.list_records(
            models.ComAtprotoRepoListRecords.Params(repo=self.kept.did, collection=POST, limit=PAGE, cursor=cursor)
        )

    def _remote_post(self, uri: str, value: Any) -> RemotePost:
        text, created = _field(value, "text"), _field(value, "created_at", "createdAt")
        try:
            posted_at = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConnectorError(f"the post {uri} has an unreadable createdAt {created!r}", permanent=False) from exc
        if posted_at.tzinfo is None:
            posted_at = posted_at.replace(tzinfo=UTC)
        return RemotePost(
            remote_id=uri, url=self._web_url(uri), text=str(text or ""), posted_at=posted_at.astimezone(UTC)
        )

    def _web_url(self, uri: str) -> str:
        return f"https://bsky.app/profile/{self.kept.did}/post/{uri.rsplit('/', 1)[-1]}"

    def delete(self, remote_id: str) -> None:
        if not remote_id.startswith("at://") or f"/{POST}/" not in remote_id:
            raise ConnectorError(f"{remote_id!r} is not the at:// URI of a Bluesky post", permanent=True)
        rkey = AtUri.from_str(remote_id).rkey
        # Deleting a record that is already gone succeeds: a repeated deletion is harmless.
        self.kept.call(
            "com.atproto.repo.deleteRecord",
            lambda client: client.com.atproto.repo.delete_record(
                models.ComAtprotoRepoDeleteRecord.Data(repo=self.kept.did, collection=POST, rkey=rkey)
            ),
        )

    def check(self) -> Ready:
        """The kept session, renewed so a revoked app password shows, as the PDS sees it: the
        account it acts as, and whether it is active."""
        self.kept.renew()
        got = self.kept.call("com.atproto.server.getSession", lambda client: client.com.atproto.server.get_session())
        if got.active is False:
            raise ConnectorError(f"the Bluesky account @{got.handle} is {got.status or 'not active'}", permanent=True)
        return Ready(account=f"@{got.handle} ({got.did})")

    def _resolve(self, handle: str) -> str | None:
        """A mentioned handle's DID, or None when the PDS cannot resolve it."""
        try:
            answer = self.kept.call(
                "com.atproto.identity.resolveHandle",
                lambda client: client.com.atproto.identity.resolve_handle(
                    models.ComAtprotoIdentityResolveHandle.Params(handle=handle)
                ),
            )
        except ConnectorError as exc:
            if isinstance(exc.__cause__, BadRequestError):
                return None
            raise
        return str(answer.did)


TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def tid_time(rkey: str) -> datetime | None:
    """The time in a TID record key (https://atproto.com/specs/tid: 13 base32-sortable
    characters, 53 bits of microseconds since the epoch, then 10 bits of clock id), or None
    when the key is not a TID."""
    if len(rkey) != 13 or any(char not in TID_ALPHABET for char in rkey):
        return None
    value = 0
    for char in rkey:
        value = value * 32 + TID_ALPHABET.index(char)
    if value >> 63:
        return None
    try:
        return datetime.fromtimestamp((value >> 10) / 1_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _field(value: Any, *names: str) -> Any:
    """A field of a listed record's value, whether atproto made it a model or left it a dict."""
    for name in names:
        if isinstance(value, Mapping):
            if name in value:
                return value[name]
        elif getattr(value, name, None) is not None:
            return getattr(value, name)
    return None
