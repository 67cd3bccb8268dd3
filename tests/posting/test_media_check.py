"""Uploaded media are judged by their content (Pillow for images, FFmpeg through PyAV for
videos), and what is kept is a fresh file without the metadata that says where and on what it
was made."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import av
import av.error
import pytest
from PIL import Image

from lockdown.errors import InvalidInput
from lockdown.posting import media_check
from lockdown.posting.media_check import CheckedMedia, check_media
from tests.media_samples import (
    GPS,
    GPS_IFD,
    animated_bytes,
    has_gps,
    image_bytes,
    mp4_bytes,
    oriented_jpeg,
    png_claiming,
    video_bytes,
)

IPHONE_PLACE = "+53.4061-002.9667+012.000/"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def upload(tmp_path: Path, data: bytes, name: str = "upload.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def check(tmp_path: Path, workdir: Path, data: bytes, name: str = "upload.bin", field: str = "file") -> CheckedMedia:
    return check_media(upload(tmp_path, data, name), workdir, field=field)


def refused(tmp_path: Path, workdir: Path, data: bytes, name: str = "upload.bin", field: str = "file") -> str:
    with pytest.raises(InvalidInput) as caught:
        check(tmp_path, workdir, data, name, field)
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")
    # A refusal leaves nothing behind in the work directory.
    assert list(workdir.iterdir()) == []
    return caught.value.message


def assert_describes_its_file(media: CheckedMedia, workdir: Path) -> None:
    data = media.path.read_bytes()
    assert media.path.parent == workdir
    assert media.path.suffix == f".{media.extension}"
    assert media.size == len(data)
    assert media.sha256 == hashlib.sha256(data).hexdigest()


# --- images ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime", "extension"),
    [("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"), ("WEBP", "image/webp", "webp"),
     ("GIF", "image/gif", "gif")],
)  # fmt: skip
def test_each_image_format_is_accepted_with_its_type_and_size(
    tmp_path: Path, workdir: Path, fmt: str, mime: str, extension: str
) -> None:
    media = check(tmp_path, workdir, image_bytes(fmt, (64, 48)))
    assert (media.kind, media.mime, media.extension) == ("image", mime, extension)
    assert (media.width, media.height, media.duration, media.frames) == (64, 48, None, 1)
    assert_describes_its_file(media, workdir)
    with Image.open(media.path) as stored:
        assert stored.format == fmt
        assert stored.size == (64, 48)


def test_the_gps_position_and_camera_leave_the_jpeg(tmp_path: Path, workdir: Path) -> None:
    original = image_bytes("JPEG", gps=True)
    assert has_gps(original)
    media = check(tmp_path, workdir, original)
    stored = media.path.read_bytes()
    assert not has_gps(stored)
    with Image.open(io.BytesIO(stored)) as picture:
        assert not picture.getexif()
        assert "exif" not in picture.info
        assert "xmp" not in picture.info


def exif_and_xmp() -> tuple[Image.Exif, bytes]:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    exif[0x0110] = "Camera model"
    exif.get_ifd(GPS_IFD).update(GPS)
    return exif, b'<x:xmpmeta xmlns:x="adobe:ns:meta/">Taken by J. Smith</x:xmpmeta>'


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_every_format_that_can_carry_exif_and_xmp_loses_them(tmp_path: Path, workdir: Path, fmt: str) -> None:
    exif, xmp = exif_and_xmp()
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (9, 99, 199)).save(out, fmt, exif=exif, xmp=xmp)
    assert has_gps(out.getvalue())
    media = check(tmp_path, workdir, out.getvalue())
    stored = media.path.read_bytes()
    assert not has_gps(stored)
    assert b"J. Smith" not in stored
    assert b"Camera model" not in stored
    with Image.open(io.BytesIO(stored)) as picture:
        assert not picture.getexif()


def test_a_phones_multi_picture_jpeg_keeps_its_first_picture_as_a_jpeg(tmp_path: Path, workdir: Path) -> None:
    exif, _ = exif_and_xmp()
    photo = Image.new("RGB", (40, 30), (200, 30, 40))
    depth = Image.new("RGB", (20, 15), (5, 5, 5))
    out = io.BytesIO()
    photo.save(out, "MPO", save_all=True, append_images=[depth], exif=exif)
    media = check(tmp_path, workdir, out.getvalue())
    assert (media.mime, media.width, media.height, media.frames) == ("image/jpeg", 40, 30, 1)
    with Image.open(media.path) as stored:
        assert stored.format == "JPEG"
    assert not has_gps(media.path.read_bytes())


def test_the_jpeg_keeps_its_quality(tmp_path: Path, workdir: Path) -> None:
    original = image_bytes("JPEG", (64, 48))
    media = check(tmp_path, workdir, original)
    with Image.open(io.BytesIO(original)) as before, Image.open(media.path) as after:
        assert after.quantization == before.quantization  # type: ignore[attr-defined]


def test_a_phone_photo_is_turned_the_way_it_was_taken(tmp_path: Path, workdir: Path) -> None:
    media = check(tmp_path, workdir, oriented_jpeg(6, (64, 48)))
    assert (media.width, media.height) == (48, 64)
    with Image.open(media.path) as stored:
        assert stored.size == (48, 64)
        assert 0x0112 not in stored.getexif()  # no Orientation left to turn it a second time
        # Orientation 6 turns the picture a quarter clockwise: its blue left half is now on top.
        blue = stored.convert("RGB").getpixel((24, 5))
        red = stored.convert("RGB").getpixel((24, 58))
    assert isinstance(blue, tuple)
    assert isinstance(red, tuple)
    assert blue[2] > 150 > blue[0]
    assert red[0] > 150 > red[2]
    assert not has_gps(media.path.read_bytes())


def test_png_text_chunks_go_and_its_transparency_stays(tmp_path: Path, workdir: Path) -> None:
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Press office laptop")
    text.add_text("Location", "Victoria Building")
    picture = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    out = io.BytesIO()
    picture.save(out, "PNG", pnginfo=text)
    media = check(tmp_path, workdir, out.getvalue())
    with Image.open(media.path) as stored:
        assert "Author" not in stored.info
        assert "Location" not in stored.info
        assert stored.mode == "RGBA"
        assert stored.getpixel((3, 3)) == (0, 0, 0, 0)


def test_a_png_named_jpg_is_judged_a_png(tmp_path: Path, workdir: Path) -> None:
    media = check(tmp_path, workdir, image_bytes("PNG"), name="holiday.jpg")
    assert (media.mime, media.extension) == ("image/png", "png")


def test_a_lossless_webp_stays_lossless(tmp_path: Path, workdir: Path) -> None:
    picture = Image.new("RGB", (16, 16), (10, 20, 30))
    picture.putpixel((3, 3), (250, 1, 2))
    out = io.BytesIO()
    picture.save(out, "WEBP", lossless=True)
    media = check(tmp_path, workdir, out.getvalue())
    with Image.open(media.path) as stored:
        assert stored.convert("RGB").getpixel((3, 3)) == (250, 1, 2)
    assert b"VP8L" in media.path.read_bytes()


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_an_animation_keeps_its_frames_their_durations_and_loop(tmp_path: Path, workdir: Path, fmt: str) -> None:
    media = check(tmp_path, workdir, animated_bytes(fmt, 3, (100, 200, 300), loop=0))
    assert media.frames == 3
    with Image.open(media.path) as stored:
        assert stored.format == fmt
        assert stored.n_frames == 3
        assert stored.info.get("loop") == 0
        durations = []
        colours = []
        for index in range(3):
            stored.seek(index)
            colours.append(stored.convert("RGB").getpixel((5, 5)))  # WebP says a frame's duration once decoded
            durations.append(stored.info["duration"])
    assert durations == [100, 200, 300]
    assert len(set(colours)) == 3


def test_a_transparent_animation_stays_transparent(tmp_path: Path, workdir: Path) -> None:
    clear = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    red = Image.new("RGBA", (20, 20), (255, 0, 0, 255))
    red.putpixel((0, 0), (0, 0, 0, 0))  # so the GIF has a transparent colour from its first frame
    dot = clear.copy()
    dot.putpixel((10, 10), (0, 0, 255, 255))
    out = io.BytesIO()
    red.save(out, "GIF", save_all=True, append_images=[dot], duration=[100, 100], loop=0, disposal=2)
    media = check(tmp_path, workdir, out.getvalue())
    with Image.open(media.path) as stored:
        stored.seek(1)
        second = stored.convert("RGBA")
    # The red first frame does not show through the transparent part of the second.
    assert second.getpixel((2, 2))[3] == 0  # type: ignore[index]
    assert second.getpixel((10, 10)) == (0, 0, 255, 255)


def test_an_animation_too_long_for_its_size_is_refused(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real ceiling is 100 megapixels of frames; a small one keeps the sample small.
    monkeypatch.setattr(media_check, "MAX_ANIMATION_PIXELS", 32 * 24 * 2)
    message = refused(tmp_path, workdir, animated_bytes("GIF", 3, (100, 100, 100), size=(32, 24)))
    assert "3 frames of 32 x 24" in message


def test_a_gif_that_plays_once_still_plays_once(tmp_path: Path, workdir: Path) -> None:
    media = check(tmp_path, workdir, animated_bytes("GIF", 2, (100, 100), loop=None))
    with Image.open(media.path) as stored:
        assert "loop" not in stored.info


def test_a_gif_comment_goes(tmp_path: Path, workdir: Path) -> None:
    media = check(tmp_path, workdir, animated_bytes("GIF", 2, (100, 100), comment=b"Made on J. Smith's phone"))
    assert b"J. Smith" not in media.path.read_bytes()


def test_a_truncated_jpeg_is_refused(tmp_path: Path, workdir: Path) -> None:
    whole = image_bytes("JPEG", (64, 48))
    message = refused(tmp_path, workdir, whole[: len(whole) // 2], field="media")
    assert "damaged" in message


def test_a_bmp_is_refused_by_name(tmp_path: Path, workdir: Path) -> None:
    message = refused(tmp_path, workdir, image_bytes("BMP"), name="photo.png")
    assert "BMP" in message
    assert "JPEG, PNG, WebP or GIF" in message


def test_a_heic_photo_is_refused_by_name(tmp_path: Path, workdir: Path) -> None:
    # The start of an iPhone photo: an ISO media 'ftyp' box with the HEIC brands.
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    message = refused(tmp_path, workdir, heic, name="IMG_0001.jpg")
    assert "HEIC" in message
    assert "JPEG, PNG, WebP or GIF" in message


def test_text_is_refused(tmp_path: Path, workdir: Path) -> None:
    message = refused(tmp_path, workdir, b"Dear press office,\nplease post this.\n", name="clip.mp4")
    assert "JPEG, PNG, WebP or GIF" in message
    assert "MP4" in message


def test_an_empty_file_is_refused(tmp_path: Path, workdir: Path) -> None:
    assert "empty" in refused(tmp_path, workdir, b"", name="photo.jpg")


def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path: Path, workdir: Path) -> None:
    # 81 megapixels: under Pillow's own warning, over ours; 400: over Pillow's error.
    for size in ((9000, 9000), (20000, 20000)):
        message = refused(tmp_path, workdir, png_claiming(size))
        assert "megapixels" in message


# --- videos ---------------------------------------------------------------------------------


def test_an_mp4_is_measured(tmp_path: Path, workdir: Path) -> None:
    media = check(tmp_path, workdir, mp4_bytes(2.0, (64, 48)), name="clip.mov")
    assert (media.kind, media.mime, media.extension) == ("video", "video/mp4", "mp4")
    assert (media.width, media.height) == (64, 48)
    assert media.duration == pytest.approx(2.0, abs=0.05)
    assert media.frames == 20
    assert_describes_its_file(media, workdir)


def test_an_mp4_loses_its_location_and_camera_and_can_be_streamed(tmp_path: Path, workdir: Path) -> None:
    original = video_bytes(audio=True, metadata={"location": IPHONE_PLACE, "make": "Apple", "model": "iPhone 15"})
    with av.open(io.BytesIO(original)) as before:
        assert before.metadata["location"].startswith("+53.4061-002.9667")
    media = check(tmp_path, workdir, original)
    with av.open(str(media.path)) as after:
        assert not {"location", "location-eng", "make", "model"} & set(after.metadata)
        assert after.metadata["major_brand"] == "isom"
        assert [stream.type for stream in after.streams] == ["video", "audio"]
        assert after.streams.video[0].codec_context.name == "h264"
        assert after.streams.audio[0].codec_context.name == "aac"
    stored = media.path.read_bytes()
    # Fast start: the index (moov) comes before the media data, so playback starts at once.
    assert 0 < stored.index(b"moov") < stored.index(b"mdat")
    # Copied, not re-encoded: the pictures are the same bytes.
    assert frame_packets(original) == frame_packets(stored)


def frame_packets(data: bytes) -> list[bytes]:
    with av.open(io.BytesIO(data)) as container:
        return [bytes(packet) for packet in container.demux(video=0) if packet.size]


def test_a_video_shot_upright_is_measured_as_shown(tmp_path: Path, workdir: Path) -> None:
    media = check(tmp_path, workdir, video_bytes(size=(64, 48), rotation=-90))
    assert (media.width, media.height) == (48, 64)
    with av.open(str(media.path)) as after:
        first = next(after.decode(video=0))
        assert first.rotation == -90  # the turn is kept, so players still show it upright


def test_a_quicktime_mov_is_refused(tmp_path: Path, workdir: Path) -> None:
    message = refused(tmp_path, workdir, video_bytes("mov"), name="clip.mp4")
    assert "QuickTime" in message
    assert "MP4" in message


def test_sound_without_a_picture_is_refused(tmp_path: Path, workdir: Path) -> None:
    for container in ("ipod", "mp4", "wav"):  # an .m4a, an MP4 with only sound, a WAV
        data = video_bytes(container, video=False, audio=True, audio_codec="pcm_s16le" if container == "wav" else "aac")
        message = refused(tmp_path, workdir, data, name="clip.mp4")
        assert "sound only" in message


def test_a_video_in_another_container_is_refused_by_its_name(tmp_path: Path, workdir: Path) -> None:
    message = refused(tmp_path, workdir, video_bytes("matroska"), name="clip.mp4")
    assert "Matroska" in message
    assert "MP4" in message


def test_a_video_not_in_h264_is_refused(tmp_path: Path, workdir: Path) -> None:
    message = refused(tmp_path, workdir, video_bytes("mp4", codec="mpeg4"))
    assert "H.264" in message


def test_a_remux_that_fails_leaves_nothing_behind(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(container: object, video: object, path: Path) -> int:
        path.write_bytes(b"\x00\x00\x00\x18ftypisom")
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(media_check, "_remux", half_written)
    message = refused(tmp_path, workdir, mp4_bytes(1.0))
    assert "could not be copied" in message


def test_the_caller_finds_only_its_file_in_the_workdir(tmp_path: Path, workdir: Path) -> None:
    first = check(tmp_path, workdir, mp4_bytes(1.0))
    second = check(tmp_path, workdir, image_bytes("PNG"))
    assert first.path != second.path
    assert sorted(workdir.iterdir()) == sorted([first.path, second.path])
