"""A photo and a subtitled video on a phone (390 x 844), issue 16: a manager uploads a photo with
its alt text and sees it previewed, sends a post with it for review, uploads a subtitled video,
and a colleague sees both with their alt text and subtitles before approving. Nothing scrolls
sideways and axe finds nothing serious."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import PHONE, Live, fits, sign_in
from tests.console.console_kit import ERMC, MANAGER
from tests.media_samples import SRT, has_gps, image_bytes, mp4_bytes


def chem_queue(live: Live) -> str:
    account = live.site.ctx.db.conn.execute("SELECT id FROM accounts WHERE handle = '@livuni_chem'").fetchone()[0]
    return f"/posts?account_id={account}"


def test_a_manager_sends_a_photo_and_a_subtitled_video_for_review_from_a_phone(
    live: Live, chromium: Any, axe_source: str, tmp_path: Path
) -> None:
    photo = tmp_path / "open-day.jpg"
    photo.write_bytes(image_bytes(size=(1200, 800), gps=True))
    clip, captions = tmp_path / "tour.mp4", tmp_path / "tour.srt"
    clip.write_bytes(mp4_bytes(2.0, size=(320, 240)))
    captions.write_text(SRT)

    page = live.page(chromium, PHONE)
    sign_in(page, MANAGER)
    page.goto(chem_queue(live))
    page.get_by_text("Add a photo or video").click()
    page.get_by_label("Photo (JPEG, PNG, WebP, GIF) or video (MP4)").set_input_files(str(photo))
    page.get_by_label("Alt text: what it shows").fill("Students at the open day stand in the Victoria Building")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("The image is uploaded")).to_be_visible()
    preview = page.get_by_role("img", name="Students at the open day stand in the Victoria Building")
    expect(preview).to_be_visible()
    # The preview is the stored file itself, loaded from the console (the photo was 1200 px wide).
    page.wait_for_function("img => img.complete && img.naturalWidth === 1200", arg=preview.element_handle())
    fits(page, "media-1-photo-uploaded-phone", tmp_path, axe_source)

    page.get_by_label("Text", exact=True).fill("Open day on Saturday: come and see us!")
    page.get_by_label("Time to post").fill("2030-06-01T09:00")
    page.get_by_role("button", name="Send for review").click()
    expect(page.get_by_text("is drafted")).to_be_visible()

    page.get_by_text("Add a photo or video").click()
    page.get_by_label("Photo (JPEG, PNG, WebP, GIF) or video (MP4)").set_input_files(str(clip))
    page.get_by_label("Subtitles for a video").set_input_files(str(captions))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("The video is uploaded")).to_be_visible()
    video = page.locator("fieldset.media-choice video")
    assert video.count() == 1
    assert video.locator("track[kind=captions]").count() == 1
    fits(page, "media-2-video-uploaded-phone", tmp_path, axe_source)

    # What was stored has no location; the post carries the photo.
    db = live.site.ctx.db
    post_id, media_id = db.conn.execute("SELECT post_id, media_id FROM post_media").fetchone()
    sha = db.conn.execute("SELECT sha256 FROM media WHERE id = ?", [media_id]).fetchone()[0]
    stored = next((tmp_path / "media").glob(f"??/??/{sha}.jpg"))
    assert not has_gps(stored.read_bytes())

    colleague = live.page(chromium, PHONE)
    sign_in(colleague, ERMC, live.site.totp[ERMC].now())
    colleague.goto(chem_queue(live))
    card = colleague.locator(f"#post-{post_id}")
    expect(card.get_by_role("img", name="Students at the open day stand in the Victoria Building")).to_be_visible()
    expect(card.get_by_text("Alt text: Students at the open day stand")).to_be_visible()
    fits(colleague, "media-3-review-phone", tmp_path, axe_source)
    card.get_by_role("button", name="Approve").click()
    expect(colleague.get_by_text(f"Post {post_id} is approved")).to_be_visible()


def test_an_image_without_alt_text_is_refused_on_the_phone_and_the_reason_shown(
    live: Live, chromium: Any, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes("PNG"))
    page = live.page(chromium, PHONE)
    sign_in(page, MANAGER)
    page.goto(chem_queue(live))
    page.get_by_text("Add a photo or video").click()
    page.get_by_label("Photo (JPEG, PNG, WebP, GIF) or video (MP4)").set_input_files(str(photo))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("every image needs a description")).to_be_visible()
    assert live.site.ctx.db.conn.execute("SELECT COUNT(*) FROM media").fetchone()[0] == 0
