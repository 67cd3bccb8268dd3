"""Real media files for tests, made by the libraries that read them (Pillow, PyAV): a JPEG that
carries a GPS position in its EXIF, PNG, WebP, GIF, an H.264 MP4, captions as WebVTT and SubRip,
and the OutgoingMedia a connector is given for them."""

from __future__ import annotations

import hashlib
import io
import zlib
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from connectors.base import OutgoingMedia

# Liverpool's Victoria Building, as an EXIF GPS position: what must not leave with a photo.
GPS = {1: "N", 2: (53.0, 24.0, 22.0), 3: "W", 4: (2.0, 58.0, 0.0)}
GPS_IFD = 0x8825

VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nWelcome to open day.\n\n00:00:01.500 --> 00:00:02.000\nSee you there.\n"
SRT = "1\n00:00:00,000 --> 00:00:01,500\nWelcome to open day.\n\n2\n00:00:01,500 --> 00:00:02,000\nSee you there.\n"


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), *, gps: bool = False) -> bytes:
    """An image in ``fmt`` (JPEG, PNG, WEBP, GIF); a JPEG with ``gps`` carries a GPS position."""
    picture = Image.new("RGB", size, (200, 30, 40))
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "Camera maker"  # Make
        exif.get_ifd(GPS_IFD).update(GPS)
        picture.save(out, fmt, exif=exif)
    else:
        picture.save(out, fmt)
    return out.getvalue()


def has_gps(data: bytes) -> bool:
    """Whether an image file still says where it was taken."""
    with Image.open(io.BytesIO(data)) as picture:
        return bool(picture.getexif().get_ifd(GPS_IFD))


def mp4_bytes(seconds: float = 2.0, size: tuple[int, int] = (64, 48), rate: int = 10) -> bytes:
    """An H.264 MP4 of ``seconds``, encoded by FFmpeg through PyAV."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.time_base = Fraction(1, rate)
        for index in range(max(1, int(seconds * rate))):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, (index * 7 % 255, 90, 120)))  # type: ignore[no-untyped-call]
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _stored(tmp_path: Path, name: str, data: bytes) -> tuple[str, str]:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path), hashlib.sha256(data).hexdigest()


def outgoing_image(
    tmp_path: Path, *, fmt: str = "JPEG", alt_text: str = "A red square", name: str = "photo",
    size: tuple[int, int] = (64, 48), public_url: str | None = None,
) -> OutgoingMedia:  # fmt: skip
    """An image as the dispatcher hands it to a connector."""
    data = image_bytes(fmt, size)
    mime = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}[fmt]
    path, digest = _stored(tmp_path, f"{name}.{fmt.lower()}", data)
    return OutgoingMedia(
        kind="image", path=path, mime=mime, size=len(data), sha256=digest, width=size[0], height=size[1],
        alt_text=alt_text, public_url=public_url,
    )  # fmt: skip


def outgoing_video(
    tmp_path: Path, *, alt_text: str = "Open day in two seconds", captions: bool = True, seconds: float = 2.0,
    public_url: str | None = None, name: str = "clip",
) -> OutgoingMedia:  # fmt: skip
    """A subtitled MP4 (or, without ``captions``, a live clip with a transcript contact)."""
    data = mp4_bytes(seconds)
    path, digest = _stored(tmp_path, f"{name}.mp4", data)
    return OutgoingMedia(
        kind="video", path=path, mime="video/mp4", size=len(data), sha256=digest, width=64, height=48,
        duration=seconds, alt_text=alt_text,
        captions_vtt=VTT if captions else None, captions_srt=SRT if captions else None,
        live=not captions, transcript_contact="" if captions else "press@liverpool.ac.uk",
        public_url=public_url,
    )  # fmt: skip


def video_bytes(
    container: str = "mp4", *, seconds: float = 1.0, size: tuple[int, int] = (64, 48), video: bool = True,
    audio: bool = False, metadata: dict[str, str] | None = None, codec: str = "libx264", rate: int = 10,
    rotation: int = 0, audio_codec: str = "aac",
) -> bytes:  # fmt: skip
    """A short clip muxed by FFmpeg as ``container`` (mp4, mov, ipod for an .m4a, matroska, wav):
    with or without a picture, with silent sound (AAC unless ``audio_codec`` says otherwise), and
    with container ``metadata`` such as the ``location`` an iPhone writes (ISO 6709, stored as the
    ``©xyz`` atom); ``rotation`` is the display matrix's turn in degrees (anticlockwise, as FFmpeg
    counts)."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        muxer.metadata.update(metadata or {})
        picture = sound = None
        if video:
            picture = muxer.add_stream(codec, rate=rate)
            picture.width, picture.height, picture.pix_fmt = size[0], size[1], "yuv420p"
            picture.time_base = Fraction(1, rate)
            if rotation:  # a phone held upright: the picture is stored landscape, shown turned
                picture.set_display_rotation(rotation)
        if audio:
            sound = muxer.add_stream(audio_codec, rate=8000)
        if picture is not None:
            for index in range(max(1, int(seconds * rate))):
                frame = av.VideoFrame.from_image(Image.new("RGB", size, (index * 7 % 255, 90, 120)))  # type: ignore[no-untyped-call]
                frame.pts = index
                muxer.mux(picture.encode(frame))
            muxer.mux(picture.encode())
        if sound is not None:
            for index in range(max(1, int(seconds * 8000 / 1024))):
                samples = av.AudioFrame(format=sound.format.name, layout="mono", samples=1024)
                samples.planes[0].update(bytes(samples.planes[0].buffer_size))
                samples.sample_rate, samples.pts = 8000, index * 1024
                muxer.mux(sound.encode(samples))
            muxer.mux(sound.encode())
    return out.getvalue()


def oriented_jpeg(orientation: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG stored ``size`` as the camera's sensor saw it, with an EXIF Orientation that tells
    viewers to turn it (6: turn 90° clockwise, as a phone held upright writes) and a GPS position."""
    picture = Image.new("RGB", size, (200, 30, 40))
    picture.paste((20, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif.get_ifd(GPS_IFD).update(GPS)
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def animated_bytes(
    fmt: str = "GIF", frames: int = 3, durations: tuple[int, ...] = (100, 200, 300), loop: int | None = 0,
    size: tuple[int, int] = (32, 24), **extra: object,
) -> bytes:  # fmt: skip
    """An animated GIF or WebP of ``frames`` differently coloured frames."""
    pictures = [Image.new("RGB", size, (index * 80 % 255, 40, 200 - index * 60)) for index in range(frames)]
    options: dict[str, object] = {"save_all": True, "append_images": pictures[1:], "duration": list(durations)}
    if loop is not None:
        options["loop"] = loop
    out = io.BytesIO()
    pictures[0].save(out, fmt, **options, **extra)
    return out.getvalue()


def png_claiming(size: tuple[int, int]) -> bytes:
    """A small PNG whose header claims ``size``: what a decompression bomb looks like before it
    is decoded (its CRC is right, so only the pixel count gives it away)."""
    data = bytearray(image_bytes("PNG", (8, 8)))
    # The IHDR chunk is the first: length (4), type (4), width, height (4 each) at offset 16.
    data[16:24] = size[0].to_bytes(4, "big") + size[1].to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)
