"""Each platform's media limits, as the drafting check applies them (figures from the pages
named in lockdown/posting/media_limits.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lockdown.errors import InvalidInput
from lockdown.posting.media_limits import LIMITS, MB, check_media_limits, limits_for


@dataclass(frozen=True)
class M:
    id: int = 1
    kind: str = "image"
    mime: str = "image/jpeg"
    bytes: int = 100_000
    duration: float | None = None
    alt_text: str = "A photo"
    width: int = 640
    height: int = 480
    frames: int = 1


def video(seconds: float = 10.0, size: int = MB) -> M:
    return M(kind="video", mime="video/mp4", bytes=size, duration=seconds)


def refused(platform: str, media: list[M]) -> str:
    with pytest.raises(InvalidInput) as caught:
        check_media_limits(platform, media)
    assert caught.value.field == "media_ids"
    return caught.value.message


def test_x_takes_four_images_or_one_video() -> None:
    check_media_limits("x", [M(id=n) for n in range(4)])
    assert "at most 4 images" in refused("x", [M(id=n) for n in range(5)])
    check_media_limits("x", [video()])
    assert "at most 1 video" in refused("x", [video(), video()])
    assert "not both" in refused("x", [M(), video()])
    assert "lasts 1201 s" in refused("x", [video(seconds=1201)])


def test_instagram_takes_a_carousel_of_ten_mixed_but_jpeg_only() -> None:
    check_media_limits("instagram", [M(id=n) for n in range(9)] + [video()])
    assert "at most 10" in refused("instagram", [M(id=n) for n in range(11)])
    assert "JPEG only" in refused("instagram", [M(mime="image/png")])
    assert "lasts 2 s" in refused("instagram", [video(seconds=2)])


def test_bluesky_images_must_fit_a_blob() -> None:
    check_media_limits("bluesky", [M(bytes=1_000_000)])
    assert "Bluesky takes" in refused("bluesky", [M(bytes=1_000_001)])


def test_x_lets_a_gif_be_larger_than_a_still() -> None:
    check_media_limits("x", [M(mime="image/gif", bytes=10 * MB)])
    assert "image 1 (media 1) is 10 MB" in refused("x", [M(bytes=10 * MB)])


def test_alt_text_length_is_the_platforms() -> None:
    assert "1001 characters of alt text" in refused("x", [M(alt_text="a" * 1001)])
    check_media_limits("mastodon", [M(alt_text="a" * 1500)])


def test_a_platform_without_its_own_flow_gets_the_common_limits_and_none_is_fine() -> None:
    assert limits_for("threads") is limits_for("youtube")
    check_media_limits("x", [])
    assert set(LIMITS) == {"x", "mastodon", "bluesky", "instagram", "facebook", "linkedin"}


def test_an_animation_goes_alone_on_x_and_mastodon_and_not_at_all_on_facebook() -> None:
    gif = M(mime="image/gif", frames=12)
    check_media_limits("x", [gif])
    assert "only as the post's one medium" in refused("x", [gif, M(id=2)])
    assert "only as the post's one medium" in refused("mastodon", [gif, M(id=2)])
    assert "no animated images" in refused("facebook", [gif])
    check_media_limits("bluesky", [gif, M(id=2)])


def test_linkedin_counts_pixels() -> None:
    check_media_limits("linkedin", [M(width=6000, height=6000)])
    assert "36,152,320" in refused("linkedin", [M(width=7000, height=6000)])
