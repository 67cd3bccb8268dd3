"""A video's captions, given as WebVTT or SubRip, are read by webvtt-py and kept as both; broken
cues are refused with the cue named, so the press officer knows which line to fix."""

from __future__ import annotations

import io

import pytest
import webvtt

from lockdown.errors import InvalidInput
from lockdown.posting.captions import Captions, check_captions
from tests.media_samples import SRT, VTT


def cue_texts(captions: Captions) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """The cues of both forms, each read back by webvtt-py."""
    from_vtt = webvtt.from_string(captions.vtt)
    from_srt = webvtt.from_buffer(io.StringIO(captions.srt), format="srt")
    return (
        [(cue.start, cue.end, cue.text) for cue in from_vtt.captions],
        [(cue.start, cue.end, cue.text) for cue in from_srt.captions],
    )


EXPECTED = [
    ("00:00:00.000", "00:00:01.500", "Welcome to open day."),
    ("00:00:01.500", "00:00:02.000", "See you there."),
]


@pytest.mark.parametrize("given", [VTT, SRT], ids=["webvtt", "subrip"])
def test_either_form_is_read_and_both_are_kept(given: str) -> None:
    captions = check_captions(given.encode(), duration=2.0)
    assert captions.cues == 2
    assert captions.ends_at == pytest.approx(2.0)
    from_vtt, from_srt = cue_texts(captions)
    assert from_vtt == EXPECTED
    assert from_srt == EXPECTED
    assert captions.vtt.startswith("WEBVTT\n")
    assert captions.srt.startswith("1\n00:00:00,000 --> 00:00:01,500\nWelcome to open day.\n")
    assert captions.srt.endswith("\n")


def test_a_byte_order_mark_and_windows_line_ends_are_fine() -> None:
    captions = check_captions(b"\xef\xbb\xbf" + SRT.replace("\n", "\r\n").encode(), duration=None)
    assert captions.cues == 2
    assert cue_texts(captions)[0] == EXPECTED
    assert "\ufeff" not in captions.vtt


def test_accented_text_survives() -> None:
    text = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nCroeso i\u2019r diwrnod agored — café\n"
    captions = check_captions(text.encode(), duration=1.0)
    assert "Croeso i\u2019r diwrnod agored — café" in captions.srt


def refused(data: bytes, duration: float | None = 10.0, field: str = "captions") -> str:
    with pytest.raises(InvalidInput) as caught:
        check_captions(data, duration=duration, field=field)
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")
    return caught.value.message


def test_a_binary_file_is_not_captions() -> None:
    assert "not text" in refused(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", field="media[0].captions")
    assert "not text" in refused("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nCafé\n".encode("latin-1"))


def test_text_that_is_neither_form_is_refused() -> None:
    message = refused(b"Welcome to open day.\nSee you there.\n")
    assert "WebVTT" in message
    assert "SubRip" in message


def test_webvtt_without_its_header_is_refused_with_the_forms_explained() -> None:
    message = refused(VTT.removeprefix("WEBVTT\n\n").encode())
    assert '"WEBVTT"' in message


def test_an_empty_file_is_refused() -> None:
    assert "empty" in refused(b"\xef\xbb\xbf\n\n")


def test_captions_without_cues_are_refused() -> None:
    assert "no cues" in refused(b"WEBVTT\n\nNOTE nothing yet\n")


def test_a_cue_without_text_is_named() -> None:
    vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello.\n\n00:00:01.000 --> 00:00:02.000\n\n"
    message = refused(vtt.encode())
    assert "cue 2" in message
    assert "00:00:01.000" in message
    assert "no text" in message
    srt = (
        "1\n00:00:00,000 --> 00:00:01,000\nHello.\n\n"
        "2\n00:00:01,000 --> 00:00:02,000\n\n"
        "3\n00:00:02,000 --> 00:00:03,000\nBye.\n"
    )
    message = refused(srt.encode())
    assert "cue 2" in message
    assert "no text" in message


def test_a_cue_that_ends_before_it_starts_is_named() -> None:
    srt = "1\n00:00:00,000 --> 00:00:01,000\nHello.\n\n2\n00:00:04,000 --> 00:00:03,500\nBackwards.\n"
    message = refused(srt.encode())
    assert "cue 2" in message
    assert "00:00:04.000" in message
    assert "ends before it starts" in message


def test_a_cue_with_an_unreadable_time_is_named() -> None:
    vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello.\n\n00:00:01.000 --> 00:00:6O.000\nTypo.\n"
    message = refused(vtt.encode())
    assert "cue 2" in message
    assert "00:00:6O.000" in message
    srt = "1\n00:00:00,000 --> 00:00:01,000\nHello.\n\n2\n00:00:01,000 --> 00:0O:02,000\nTypo.\n"
    assert "cue 2" in refused(srt.encode())


def test_a_cue_after_the_end_of_the_video_is_refused() -> None:
    srt = "1\n00:00:00,000 --> 00:00:01,000\nHello.\n\n2\n00:00:05,000 --> 00:00:06,000\nToo late.\n"
    message = refused(srt.encode(), duration=3.5)
    assert "cue 2" in message
    assert "00:00:05.000" in message
    assert "3.5 seconds" in message
    # Within a second of the end is a rounding of the video's length, not a mistake.
    assert check_captions(srt.encode(), duration=4.2).cues == 2
    assert check_captions(srt.encode(), duration=None).cues == 2


def test_the_last_end_is_the_latest() -> None:
    vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:09.250\nLong.\n\n00:00:01.000 --> 00:00:02.000\nShort.\n"
    assert check_captions(vtt.encode(), duration=10.0).ends_at == pytest.approx(9.25)
