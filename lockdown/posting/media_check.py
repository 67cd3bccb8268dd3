"""Uploaded images and videos, judged by their content and written again without what they say
about the person who made them (issue 16).

The file's name and the content type the browser sent are never read: Pillow says whether it is
an image and which, FFmpeg (through PyAV) whether it is an MP4 video. What is kept is a fresh
file in the caller's work directory: an image decoded and encoded again without EXIF (GPS
position, camera, time), XMP, comments or PNG text, turned the way the camera was held; a video
remuxed (its streams copied, not encoded again) into a new MP4 without the container's metadata
(an iPhone's ``©xyz`` location, make and model) and with its index first, so platforms can stream
it. Refusals are ``InvalidInput`` naming the field, in words a press officer can act on.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error
from av.stream import Disposition
from PIL import Image, ImageOps, ImageSequence, JpegImagePlugin, UnidentifiedImageError

from lockdown.errors import InvalidInput

# The largest picture taken, per frame: a 48-megapixel phone photo fits, a decompression bomb
# (a small file that decodes to gigabytes) does not. Pillow's own guard (MAX_IMAGE_PIXELS, 89
# megapixels) only warns below twice its limit; this one refuses, before anything is decoded.
MAX_PIXELS = 60_000_000
# All frames of an animation together: they are held decoded (4 bytes a pixel) while the
# animation is encoded again, so this is also the memory one upload may take (400 MB).
MAX_ANIMATION_PIXELS = 100_000_000

ACCEPTED_IMAGES = "JPEG, PNG, WebP or GIF"
ACCEPTED_VIDEO = "MP4 (H.264)"

# Pillow's format -> (mime, extension). MPO is a JPEG with extra pictures after the first (a
# phone's depth map or preview): its first picture is kept, as a JPEG.
_IMAGE_TYPES = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
_SAVED_AS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "GIF"}
# How people name the image formats Pillow can read but platforms do not take.
_IMAGE_NAMES = {
    "BMP": "BMP (Windows bitmap)",
    "DIB": "BMP (Windows bitmap)",
    "TIFF": "TIFF",
    "ICO": "icon (ICO)",
    "ICNS": "icon (ICNS)",
    "PSD": "Photoshop (PSD)",
    "JPEG2000": "JPEG 2000",
    "AVIF": "AVIF",
    "EPS": "PostScript (EPS)",
    "PDF": "PDF",
}
# ISO media brands of files that FFmpeg's MP4 reader opens but that are not MP4 videos.
_IMAGE_BRANDS = {
    b"heic": "HEIC",
    b"heix": "HEIC",
    b"heim": "HEIC",
    b"heis": "HEIC",
    b"hevc": "HEIC",
    b"hevx": "HEIC",
    b"mif1": "HEIF",
    b"msf1": "HEIF",
    b"avif": "AVIF",
    b"avis": "AVIF",
}
_SOUND_BRANDS = {"M4A ", "M4B ", "M4P "}
_QUICKTIME_BRAND = "qt  "
# FFmpeg's names of video codecs, as people know them.
_CODEC_NAMES = {"hevc": "H.265 (HEVC)", "av1": "AV1", "vp9": "VP9", "vp8": "VP8", "mpeg4": "MPEG-4 Part 2",
                "prores": "ProRes", "mjpeg": "Motion JPEG"}  # fmt: skip


@dataclass(frozen=True)
class CheckedMedia:
    """An uploaded file that passed: what it is and where its cleaned copy was written."""

    kind: str  # "image" | "video"
    mime: str  # image/jpeg, image/png, image/webp, image/gif, video/mp4
    extension: str  # "jpg", "png", "webp", "gif", "mp4"
    path: Path  # the cleaned file, written into workdir
    size: int  # bytes of the cleaned file
    sha256: str  # of the cleaned file
    width: int
    height: int
    duration: float | None  # seconds, video only
    frames: int  # 1 for still images; an animated GIF/WebP's frame count (a video's, for a video)


def check_media(source: Path, workdir: Path, *, field: str = "file") -> CheckedMedia:
    """Judge the uploaded file at ``source`` by its content and write a cleaned copy of it into
    ``workdir`` under a temporary name (the caller moves it where it is stored).

    Images (JPEG, PNG, WebP, GIF) are decoded in full and encoded again without metadata; videos
    must be MP4 with H.264 pictures and are remuxed without metadata. Anything else, an empty
    file, a damaged one or a decompression bomb raises ``InvalidInput`` naming ``field``; nothing
    is left in ``workdir`` then.
    """
    if source.stat().st_size == 0:
        raise InvalidInput(f"{field}: the file is empty; choose the picture or video again", field=field)
    image_format = _image_format(source, field)
    if image_format is not None:
        return _clean_image(source, workdir, image_format, field)
    return _clean_video(source, workdir, field)


# --- images ---------------------------------------------------------------------------------


def _image_format(source: Path, field: str) -> str | None:
    """Pillow's name for the image format of ``source``, None when it is no image Pillow knows;
    refuses image formats platforms do not take and pictures too large to decode."""
    try:
        with Image.open(source) as probe:
            image_format = probe.format or "unknown"
            width, height = probe.size
    except UnidentifiedImageError:
        return None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # The test suite (and a cautious deployment) turns Pillow's warning into an error.
        raise _too_large(field) from error
    except Exception as error:  # a broken header, as the decoders raise it
        raise _damaged(field) from error
    if image_format not in _IMAGE_TYPES:
        name = _IMAGE_NAMES.get(image_format, image_format)
        raise InvalidInput(f"{field}: this is a {name} image; upload {ACCEPTED_IMAGES}", field=field)
    if width * height > MAX_PIXELS:
        raise _too_large(field, (width, height))
    return image_format


def _too_large(field: str, size: tuple[int, int] | None = None) -> InvalidInput:
    limit = f"the most we take is {MAX_PIXELS // 1_000_000} megapixels"
    if size is None:
        message = f"{field}: this image has too many pixels to open safely ({limit}); make it smaller and try again"
    else:
        megapixels = size[0] * size[1] / 1_000_000
        message = (
            f"{field}: this image is {size[0]} x {size[1]} pixels ({megapixels:.0f} megapixels) and {limit}; "
            "make it smaller and try again"
        )
    return InvalidInput(message, field=field)


def _damaged(field: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: this image is damaged or cut short and cannot be opened; save or export it again and upload that",
        field=field,
    )


def _clean_image(source: Path, workdir: Path, image_format: str, field: str) -> CheckedMedia:
    try:
        with Image.open(source) as picture:
            picture.verify()  # checksums and structure, without decoding
        with Image.open(source) as picture:
            # What is kept of the file is read before seeking its frames changes ``info``.
            saved_as = _SAVED_AS[image_format]
            options = _save_options(picture, saved_as, source)
            if saved_as == "JPEG":
                # A JPEG is encoded again with its own quantisation tables and subsampling
                # (what quality="keep" does), so it loses as little as it can.
                options.update(qtables=getattr(picture, "quantization", None) or None, subsampling=_sampling(picture))
            loop = picture.info.get("loop")
            frames = _decoded_frames(picture, image_format, field)
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_large(field) from error
    except Exception as error:  # truncated data, bad checksums, broken streams: the decoders' errors
        raise _damaged(field) from error

    pictures = [frame for frame, _ in frames]
    if len(pictures) > 1:
        options.update(save_all=True, append_images=pictures[1:], duration=[duration for _, duration in frames])
        if loop is not None:
            options["loop"] = loop
        if saved_as == "GIF" and any(_see_through(frame) for frame in pictures):
            # Each frame is whole: clear the last before drawing the next, so what is transparent
            # in a frame does not show the one before through it.
            options["disposal"] = 2
    mime, extension = _IMAGE_TYPES[image_format]
    try:
        with _output(workdir, extension) as path:
            pictures[0].save(path, saved_as, **options)
            with Image.open(path) as stored:
                # As written: an encoder may merge frames that look the same into one shown longer.
                width, height = stored.size
                count = getattr(stored, "n_frames", 1)
    except (OSError, ValueError, KeyError) as error:  # a mode or option the encoder cannot write
        raise InvalidInput(
            f"{field}: this image could not be written again without its metadata ({error}); "
            "export it as JPEG or PNG and try again",
            field=field,
        ) from error
    return _checked("image", mime, extension, path, width, height, None, count)


def _decoded_frames(picture: Image.Image, image_format: str, field: str) -> list[tuple[Image.Image, int]]:
    """Every frame of ``picture`` decoded (a damaged one raises), each a copy turned upright and
    without the file's metadata, with how long it shows (milliseconds). An MPO gives only its
    first picture."""
    count = 1 if image_format == "MPO" else getattr(picture, "n_frames", 1)
    width, height = picture.size
    if count * width * height > MAX_ANIMATION_PIXELS:
        raise InvalidInput(
            f"{field}: this animation has too many frames for its size ({count} frames of {width} x {height}); "
            "make it shorter or smaller",
            field=field,
        )
    frames = []
    for index, frame in enumerate(ImageSequence.Iterator(picture)):
        if index >= count:
            break
        frame.load()
        duration = int(frame.info.get("duration", 0) or 0)
        # An animation's frames are kept whole, in one mode, so each is encoded alike.
        decoded = frame.convert("RGBA") if count > 1 and frame.mode not in ("RGB", "RGBA") else frame.copy()
        frames.append((_upright(decoded), duration))
    return frames


def _see_through(frame: Image.Image) -> bool:
    """Whether any pixel of ``frame`` is transparent, wholly or in part."""
    return frame.mode == "RGBA" and frame.getchannel("A").getextrema()[0] != 255


def _upright(frame: Image.Image) -> Image.Image:
    """``frame`` turned as its EXIF Orientation says, then without any of the file's metadata."""
    turned = ImageOps.exif_transpose(frame)
    turned.info = {}
    if "transparency" in frame.info:
        turned.info["transparency"] = frame.info["transparency"]
    return turned


def _save_options(picture: Image.Image, saved_as: str, source: Path) -> dict[str, Any]:
    """How to encode ``picture`` again: its colour profile kept, nothing else of its metadata
    (each option given here replaces what Pillow would take from the file)."""
    options: dict[str, Any] = {"exif": b"", "xmp": b""}
    if icc := picture.info.get("icc_profile"):
        options["icc_profile"] = icc
    if saved_as == "JPEG":
        options.update(optimize=True, progressive=bool(picture.info.get("progressive")))
    elif saved_as == "PNG":
        options.update(optimize=True)
        del options["xmp"]
    elif saved_as == "WEBP":
        lossless = _webp_is_lossless(source)
        options.update(lossless=lossless, quality=100 if lossless else 90)
    elif saved_as == "GIF":
        options = {"comment": b""}
    return options


def _sampling(picture: Image.Image) -> int:
    """The JPEG's chroma subsampling (Pillow's number for it, -1 when it cannot tell)."""
    if isinstance(picture, JpegImagePlugin.JpegImageFile):
        return JpegImagePlugin.get_sampling(picture)
    return -1


def _webp_is_lossless(source: Path) -> bool:
    """Whether the WebP's pictures are lossless ("VP8L") rather than lossy ("VP8 "): Pillow does
    not say, the RIFF chunks do. A lossless WebP (a chart, a logo) encoded lossily would blur."""
    data = source.read_bytes()

    def chunks(start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
        while start + 8 <= end:
            name, length = data[start : start + 4], int.from_bytes(data[start + 4 : start + 8], "little")
            yield name, start + 8, min(start + 8 + length, end)
            start += 8 + length + (length & 1)

    for name, begin, end in chunks(12, len(data)):
        if name == b"ANMF":
            # An animation frame: 16 bytes of position and timing, then the frame's own chunks.
            if any(inner == b"VP8L" for inner, _, _ in chunks(begin + 16, end)):
                return True
        elif name in (b"VP8L", b"VP8 "):
            return name == b"VP8L"
    return False


# --- videos ---------------------------------------------------------------------------------


def _clean_video(source: Path, workdir: Path, field: str) -> CheckedMedia:
    with source.open("rb") as handle:
        head = handle.read(16)
    brand = head[8:12] if head[4:8] == b"ftyp" else b""
    if brand in _IMAGE_BRANDS:
        hint = "; on an iPhone, Settings > Camera > Formats > Most Compatible takes JPEG" if brand[:2] == b"he" else ""
        raise InvalidInput(
            f"{field}: this is a {_IMAGE_BRANDS[brand]} image; upload {ACCEPTED_IMAGES}{hint}", field=field
        )
    with contextlib.ExitStack() as stack:
        try:
            # Opened from a file object, not a path, so FFmpeg cannot go by the file's name either.
            handle = stack.enter_context(source.open("rb"))
            container = stack.enter_context(av.open(handle, "r", metadata_errors="replace"))
        except av.error.FFmpegError as error:
            raise _not_media(field) from error
        video = _video_stream(container, field)
        width, height = video.codec_context.width, video.codec_context.height
        duration = _duration(container, video, field)
        try:
            with _output(workdir, "mp4") as path:
                frames = _remux(container, video, path)
                width, height = _as_shown(path, width, height)
        except av.error.FFmpegError as error:
            raise InvalidInput(
                f"{field}: this video could not be copied into a clean MP4 ({error.strerror or error}); "
                f"export it again as {ACCEPTED_VIDEO} with AAC sound",
                field=field,
            ) from error
    return _checked("video", "video/mp4", "mp4", path, width, height, duration, frames)


def _not_media(field: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: this is not a picture or a video we can post; "
        f"upload {ACCEPTED_IMAGES}, or a video as {ACCEPTED_VIDEO}",
        field=field,
    )


def _video_stream(container: av.container.InputContainer, field: str) -> av.VideoStream:
    """The MP4's H.264 picture stream; refuses sound only, other containers and other codecs."""
    pictures = [
        stream for stream in container.streams.video if not stream.disposition & Disposition.attached_pic
    ]  # an audio file's cover picture is no video
    brand = container.metadata.get("major_brand", "")
    if not pictures or brand in _SOUND_BRANDS:
        if container.streams.audio:
            raise InvalidInput(
                f"{field}: this is sound only, with no picture; upload a video as {ACCEPTED_VIDEO}", field=field
            )
        raise _not_media(field)
    if "mp4" not in container.format.name.split(","):
        raise InvalidInput(
            f"{field}: this is a {container.format.long_name} video, not MP4; export it as {ACCEPTED_VIDEO}",
            field=field,
        )
    if brand in ("", _QUICKTIME_BRAND):
        raise InvalidInput(
            f"{field}: this is a QuickTime (.mov) video; export or share it as {ACCEPTED_VIDEO}", field=field
        )
    video = pictures[0]
    codec = video.codec_context.name
    if codec != "h264":
        named = _CODEC_NAMES.get(codec, codec)
        hint = "; on an iPhone, Settings > Camera > Formats > Most Compatible records H.264" if codec == "hevc" else ""
        raise InvalidInput(
            f"{field}: this video's pictures are coded as {named}; platforms take H.264, "
            f"so export it as {ACCEPTED_VIDEO}{hint}",
            field=field,
        )
    if not video.codec_context.width or not video.codec_context.height:
        raise InvalidInput(
            f"{field}: this video does not say how large its picture is; export it again as {ACCEPTED_VIDEO}",
            field=field,
        )
    return video


def _duration(container: av.container.InputContainer, video: av.VideoStream, field: str) -> float:
    """The video's length in seconds: its picture stream's, else the file's."""
    if video.duration and video.time_base:
        seconds = float(video.duration * video.time_base)
    elif container.duration:
        seconds = container.duration / av.time_base
    else:
        seconds = 0.0
    if seconds <= 0:
        raise InvalidInput(
            f"{field}: this video does not say how long it is; export it again as {ACCEPTED_VIDEO}", field=field
        )
    return seconds


def _remux(container: av.container.InputContainer, video: av.VideoStream, path: Path) -> int:
    """Copy the picture and sound streams of ``container`` into a new MP4 at ``path`` (the
    container's metadata stays behind, the index goes first); the number of pictures copied."""
    kept = [video, *container.streams.audio]
    frames = 0
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as output:
        copies = {stream.index: output.add_stream_from_template(stream) for stream in kept}
        for packet in container.demux(kept):
            if packet.dts is None:  # the demuxer's flush, no data
                continue
            if packet.stream.index == video.index:
                frames += 1
            packet.stream = copies[packet.stream.index]
            output.mux(packet)
    return frames


def _as_shown(path: Path, width: int, height: int) -> tuple[int, int]:
    """The picture's size as players show it: a phone held upright records a landscape picture
    and a display matrix turning it a quarter, which the remux kept but the stream's size does
    not count. Only the first frame says (FFmpeg puts the matrix on decoded frames), so it is
    decoded, from the cleaned copy."""
    try:
        with av.open(str(path), "r") as cleaned:
            first = next(cleaned.decode(video=0), None)
            rotation = first.rotation if first is not None else 0
    except av.error.FFmpegError:
        return width, height  # the size stored is still right for an unturned picture
    return (height, width) if rotation % 180 == 90 else (width, height)


# --- the cleaned file -----------------------------------------------------------------------


@contextlib.contextmanager
def _output(workdir: Path, extension: str) -> Iterator[Path]:
    """A new file in ``workdir`` for the cleaned copy, removed again if writing it fails."""
    handle, name = tempfile.mkstemp(prefix="upload-", suffix=f".{extension}", dir=workdir)
    os.close(handle)
    path = Path(name)
    try:
        yield path
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _checked(
    kind: str, mime: str, extension: str, path: Path, width: int, height: int, duration: float | None, frames: int
) -> CheckedMedia:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return CheckedMedia(
        kind=kind, mime=mime, extension=extension, path=path, size=path.stat().st_size, sha256=digest.hexdigest(),
        width=width, height=height, duration=duration, frames=frames,
    )  # fmt: skip
