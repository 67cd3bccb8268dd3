"""Media on posts and incident messages (policy 2.2.4): uploads checked by their content and
stored, the accessibility rule, who may use and see which medium, and what a connector is given.

An upload is checked (``media_check``: images re-encoded without EXIF, videos remuxed without
their metadata), its captions parsed (``captions``), and kept content-addressed (``media_store``)
in the same write transaction that records it and its audit entry, so the media sweep
(``media_sweep``) never removes a file an upload is about to name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from connectors.base import OutgoingMedia
from lockdown.errors import Forbidden, InvalidInput, NotFound
from lockdown.people.users import User
from lockdown.posting.captions import check_captions
from lockdown.posting.media_check import check_media
from lockdown.posting.media_limits import check_media_limits
from lockdown.posting.media_links import MediaLinks
from lockdown.posting.media_store import MediaStore
from lockdown.posting.rights import MANAGES_OR_EDITS, drafts_anywhere
from lockdown.settings import Settings
from lockdown.store.context import Context
from lockdown.timeutil import to_iso

MAX_ALT_TEXT = 5000
MAX_CONTACT = 500
MAX_MEDIA_IDS = 20
# Where a medium is named: a post (an account's people see it) or an incident message (press).
OWNERS = {"post": ("post_media", "post_id"), "message": ("message_media", "message_id")}
_COLUMNS = (
    "id", "sha256", "kind", "mime", "extension", "bytes", "width", "height", "duration", "frames",
    "alt_text", "captions_vtt", "captions_srt", "captions_lang", "live", "transcript_contact",
    "uploaded_by", "created_at",
)  # fmt: skip


@dataclass(frozen=True)
class Medium:
    """One stored upload."""

    id: int
    sha256: str
    kind: str
    mime: str
    extension: str
    bytes: int
    width: int
    height: int
    duration: float | None
    frames: int
    alt_text: str
    captions_vtt: str | None
    captions_srt: str | None
    captions_lang: str | None
    live: bool
    transcript_contact: str | None
    uploaded_by: int
    created_at: str

    def public(self) -> dict[str, Any]:
        """The medium as the API shows it (the captions' cues are not repeated here)."""
        return {
            "id": self.id, "kind": self.kind, "mime": self.mime, "bytes": self.bytes, "sha256": self.sha256,
            "width": self.width, "height": self.height, "duration": self.duration, "frames": self.frames,
            "alt_text": self.alt_text, "captions": self.captions_vtt is not None,
            "captions_lang": self.captions_lang, "live": self.live,
            "transcript_contact": self.transcript_contact, "created_at": self.created_at,
        }  # fmt: skip


@dataclass(frozen=True)
class UploadForm:
    """The fields of an upload beside its file (already read from the request)."""

    alt_text: str = ""
    captions: bytes | None = None
    captions_lang: str = "en"
    live: bool = False
    transcript_contact: str = ""


def _medium(row: Sequence[Any]) -> Medium:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["live"] = bool(values["live"])
    return Medium(**values)


def get_medium(db: Database, media_id: int) -> Medium:
    """One medium; 404 if there is none."""
    row = db.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM media WHERE id = ?", [media_id]).fetchone()
    if row is None:
        raise NotFound(f"no media {media_id}", field="id")
    return _medium(row)


def read_form(fields: Mapping[str, Any]) -> UploadForm:
    """The upload's text fields, checked: 400 naming the field."""
    unknown = sorted(set(fields) - {"alt_text", "captions_lang", "live", "transcript_contact"})
    if unknown:
        raise InvalidInput(f"{unknown[0]} is not a field of an upload", field=unknown[0])
    alt_text = str(fields.get("alt_text") or "").strip()
    if len(alt_text) > MAX_ALT_TEXT:
        raise InvalidInput(f"alt_text must be at most {MAX_ALT_TEXT} characters", field="alt_text")
    live_text = str(fields.get("live") or "false").strip().lower()
    if live_text not in ("true", "false"):
        raise InvalidInput("live must be true or false", field="live")
    contact = str(fields.get("transcript_contact") or "").strip()
    if len(contact) > MAX_CONTACT:
        raise InvalidInput(f"transcript_contact must be at most {MAX_CONTACT} characters", field="transcript_contact")
    lang = str(fields.get("captions_lang") or "en").strip()
    if not (2 <= len(lang) <= 35 and all(part.isalnum() for part in lang.split("-"))):
        raise InvalidInput("captions_lang must be a language tag such as en or cy-GB", field="captions_lang")
    return UploadForm(alt_text, None, lang, live_text == "true", contact)


def upload_media(
    ctx: Context, store: MediaStore, actor: User, upload: Path, form: UploadForm, *, alt_text_rule: str
) -> Medium:
    """Check an uploaded file (written to ``upload`` in the store's spool; it is consumed) and keep
    it. Images need alt text unless the rule is only a warning; a video needs captions, or to be
    marked live with where its transcript can be had (policy 2.2.4)."""
    try:
        if not drafts_anywhere(ctx.db, actor):
            raise Forbidden("only people who may draft a post or an incident message may upload media")
        checked = check_media(upload, store.spool(), field="file")
    finally:
        upload.unlink(missing_ok=True)
    try:
        captions = _accessibility(checked.kind, checked.duration, form, alt_text_rule)
        with ctx.change() as change:
            # Kept under the write lock: the sweep, which removes files no row names, takes it too.
            store.keep(checked.path, checked.sha256, checked.extension)
            media_id = ctx.db.conn.execute(
                "INSERT INTO media (sha256, kind, mime, extension, bytes, width, height, duration, frames, "
                "alt_text, captions_vtt, captions_srt, captions_lang, live, transcript_contact, uploaded_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [
                    checked.sha256, checked.kind, checked.mime, checked.extension, checked.size, checked.width,
                    checked.height, checked.duration, checked.frames, form.alt_text,
                    captions.vtt if captions else None, captions.srt if captions else None,
                    form.captions_lang if captions else None, int(form.live),
                    form.transcript_contact if form.live else None, actor.id, to_iso(change.at),
                ],
            ).fetchone()[0]  # fmt: skip
            change.audit(
                actor.email, "media.upload", f"media:{media_id}",
                kind=checked.kind, sha256=checked.sha256, bytes=checked.size, alt_text=form.alt_text,
                captions=captions is not None, live=form.live,
            )  # fmt: skip
    finally:
        checked.path.unlink(missing_ok=True)
    return get_medium(ctx.db, media_id)


def _accessibility(kind: str, duration: float | None, form: UploadForm, alt_text_rule: str) -> Any:
    if kind == "image":
        if form.captions is not None:
            raise InvalidInput("captions go with a video; this file is an image", field="captions")
        if form.live:
            raise InvalidInput("live is for a video; this file is an image", field="live")
        if not form.alt_text and alt_text_rule == "required":
            raise InvalidInput(
                "alt_text: every image needs a description for people who cannot see it (policy 2.2.4)",
                field="alt_text",
            )
        return None
    if form.captions is not None:
        if form.live:
            raise InvalidInput("a video with a captions file is not live; send one or the other", field="live")
        return check_captions(form.captions, duration=duration, field="captions")
    if not form.live:
        raise InvalidInput(
            "captions: a video made in advance needs subtitles, a WebVTT or SubRip file (policy 2.2.4); "
            "or mark it live with transcript_contact",
            field="captions",
        )
    if not form.transcript_contact:
        raise InvalidInput(
            "transcript_contact: a live or immediate clip needs where its full transcript can be had on "
            "request (policy 2.2.4)",
            field="transcript_contact",
        )
    return None


def may_see(db: Database, user: User, medium: Medium) -> bool:
    """The uploader, ERMC and press see every medium; others those on posts of their accounts."""
    if user.has("ermc", "press") or medium.uploaded_by == user.id:
        return True
    row = db.conn.execute(
        "SELECT EXISTS (SELECT 1 FROM post_media pm JOIN posts p ON p.id = pm.post_id "
        f"JOIN accounts a ON a.id = p.account_id WHERE pm.media_id = :media AND {MANAGES_OR_EDITS})",
        {"media": medium.id, "user": user.id},
    ).fetchone()
    return bool(row[0])


def media_ids_of(value: Any, *, field: str = "media_ids") -> list[int]:
    """A list of distinct media ids; 400 naming the field otherwise."""
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise InvalidInput(f"{field} must be a list of media ids", field=field)
    if len(set(value)) != len(value):
        raise InvalidInput(f"{field} names one medium twice", field=field)
    if len(value) > MAX_MEDIA_IDS:
        raise InvalidInput(f"{field} may name at most {MAX_MEDIA_IDS} media", field=field)
    return list(value)


def usable_media(
    db: Database, actor: User, ids: list[int], *, platforms: Iterable[str], alt_text_rule: str,
    attached: Iterable[int] = (), field: str = "media_ids",
) -> list[Medium]:  # fmt: skip
    """The media a draft may carry, in order: each the actor's own upload or already on the
    draft; within every target platform's limits; and meeting the accessibility rule."""
    media, kept = [], set(attached)
    for media_id in ids:
        try:
            medium = get_medium(db, media_id)
        except NotFound:
            raise InvalidInput(f"{field}: there is no media {media_id}", field=field) from None
        if medium.uploaded_by != actor.id and media_id not in kept:
            raise InvalidInput(f"{field}: media {media_id} was uploaded by someone else", field=field)
        media.append(medium)
    check_accessibility(media, alt_text_rule, field=field)
    for platform in sorted(set(platforms)):
        check_media_limits(platform, media, field=field)
    return media


def check_accessibility(media: Sequence[Medium], alt_text_rule: str, *, field: str = "media_ids") -> list[str]:
    """Policy 2.2.4 on the media of one post: 400 naming the field when a rule is broken; the
    warnings when the alt-text rule is only a warning."""
    warnings = []
    for position, medium in enumerate(media, start=1):
        which = f"{medium.kind} {position} (media {medium.id})"
        if medium.kind == "image" and not medium.alt_text:
            problem = f"{which} has no alt text (policy 2.2.4)"
            if alt_text_rule == "required":
                raise InvalidInput(f"{field}: {problem}", field=field)
            warnings.append(problem)
        if medium.kind == "video" and medium.captions_vtt is None and not (medium.live and medium.transcript_contact):
            raise InvalidInput(f"{field}: {which} has no captions and is not marked live (policy 2.2.4)", field=field)
    return warnings


def attach(db: Database, owner: str, owner_id: int, media: Sequence[Medium]) -> None:
    """Make ``media`` the post's or message's media, in this order (inside the caller's write)."""
    table, column = OWNERS[owner]
    db.conn.execute(f"DELETE FROM {table} WHERE {column} = ?", [owner_id])
    db.conn.executemany(
        f"INSERT INTO {table} ({column}, media_id, position) VALUES (?, ?, ?)",
        [(owner_id, medium.id, position) for position, medium in enumerate(media)],
    )


def media_of(db: Database, owner: str, owner_ids: Iterable[int]) -> dict[int, list[Medium]]:
    """The media of each post (or message), in order; an owner without media is absent."""
    ids = sorted(set(owner_ids))
    if not ids:
        return {}
    table, column = OWNERS[owner]
    found: dict[int, list[Medium]] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        marks = ",".join("?" * len(chunk))
        rows = db.conn.execute(
            f"SELECT o.{column}, {', '.join('m.' + c for c in _COLUMNS)} FROM {table} o "
            f"JOIN media m ON m.id = o.media_id WHERE o.{column} IN ({marks}) ORDER BY o.{column}, o.position",
            chunk,
        )
        for row in rows:
            found.setdefault(row[0], []).append(_medium(row[1:]))
    return found


def outgoing(
    media: Sequence[Medium], store: MediaStore, links: MediaLinks | None, now: datetime
) -> tuple[OutgoingMedia, ...]:
    """What a connector is given for these media at a send (a fresh public link each time)."""
    return tuple(_outgoing_one(medium, store, links, now) for medium in media)


def _outgoing_one(medium: Medium, store: MediaStore, links: MediaLinks | None, now: datetime) -> OutgoingMedia:
    return OutgoingMedia(
        kind=medium.kind, path=str(store.path_for(medium.sha256, medium.extension)), mime=medium.mime,
        size=medium.bytes, sha256=medium.sha256, width=medium.width, height=medium.height,
        duration=medium.duration, alt_text=medium.alt_text, captions_vtt=medium.captions_vtt,
        captions_srt=medium.captions_srt, captions_lang=medium.captions_lang or "en", live=medium.live,
        transcript_contact=medium.transcript_contact or "",
        public_url=links.link(medium.sha256, medium.extension, now) if links else None,
    )  # fmt: skip


@dataclass(frozen=True)
class MediaConfig:
    """What media code needs from the settings."""

    store: MediaStore
    links: MediaLinks | None = None
    alt_text_rule: str = "required"


def media_config(settings: Settings) -> MediaConfig:
    """The media store, public links (only with LOCKDOWN_PUBLIC_URL given and a secret key to sign
    them) and the alt-text rule of this installation."""
    links = None
    if settings.public_url_given and settings.secret_key:
        links = MediaLinks(settings.secret_key, settings.public_url)
    return MediaConfig(MediaStore(settings.media_folder), links, settings.alt_text_rule)
