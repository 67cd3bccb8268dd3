"""A video's captions (issue 16, policy 2.2.4): given as WebVTT or SubRip, read by webvtt-py,
checked cue by cue, and kept in both forms, since some platforms take one and some the other.

webvtt-py reads leniently: a SubRip cue without text, or any cue whose times cannot be read, is
silently left out. So every line with cue times (``-->``) in the file is matched to a cue it
read, and a line that became no cue is refused by its number, as is a cue without text, one that
ends before it starts and one that starts after the video has ended.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from lockdown.errors import InvalidInput

# A video's length is rounded by whoever reports it: a cue may start this much after it.
END_TOLERANCE = 1.0

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # WebVTT's line terminators, which SubRip files use too
_EXAMPLE = {"vtt": "00:00:01.000 --> 00:00:04.000", "srt": "00:00:01,000 --> 00:00:04,000"}
_FORMS = (
    'WebVTT (a .vtt file, starting with the line "WEBVTT") or SubRip '
    "(a .srt file, starting with the cue number 1 and its times)"
)


@dataclass(frozen=True)
class Captions:
    """Checked captions: the same cues in both forms."""

    vtt: str  # the cues as WebVTT
    srt: str  # the same cues as SubRip
    cues: int
    ends_at: float  # seconds, the last cue's end (the latest end of any cue)


def check_captions(data: bytes, *, duration: float | None, field: str = "captions") -> Captions:
    """Read ``data`` as WebVTT or SubRip (told apart by content; UTF-8, a byte order mark
    allowed) and return its cues in both forms. ``duration`` is the video's length in seconds
    (None when unknown): no cue may start more than a second after it. Raises ``InvalidInput``
    naming ``field`` and, for a broken cue, its number and time."""
    text = _text(data, field)
    form = "vtt" if text.lstrip().startswith("WEBVTT") else "srt"
    try:
        parsed: webvtt.WebVTT | None = _parse(text.lstrip(), form)
    except MalformedFileError as error:  # neither header: no WEBVTT line, no SubRip cue 1 first
        raise _not_captions(field) from error
    except (MalformedCaptionError, ValueError):
        parsed = None  # a cue broke the whole file: find which below, else say it is no captions file
    cues = _matched_cues(text, form, [] if parsed is None else parsed.captions, field)
    if parsed is None:
        raise _not_captions(field)
    if not cues:
        raise InvalidInput(
            f"{field}: these captions have no cues; each cue is a line of times like {_EXAMPLE[form]} "
            "followed by the words said",
            field=field,
        )
    for number, cue in enumerate(cues, 1):
        _check_cue(number, cue, duration, field)

    # Only the cues, their styles and regions are kept: NOTE comments are working notes, not for the public.
    for cue in cues:
        cue.comments = []
    clean = webvtt.WebVTT(captions=cues, styles=parsed.styles, regions=parsed.regions, metadata=parsed.metadata)
    srt = io.StringIO()
    clean.write(srt, format="srt")
    return Captions(
        vtt=clean.content,
        srt=srt.getvalue().rstrip("\n") + "\n",
        cues=len(cues),
        ends_at=max(cue.end_time.in_milliseconds() for cue in cues) / 1000,
    )


def _text(data: bytes, field: str) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InvalidInput(
            f"{field}: this is UTF-16 text; save the captions as UTF-8 and upload them again", field=field
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"{field}: this is not text in UTF-8 (byte {error.start + 1} is not); upload captions as {_FORMS}, "
            "saved as UTF-8",
            field=field,
        ) from error
    if not text.strip():
        raise InvalidInput(f"{field}: the captions file is empty; upload {_FORMS}", field=field)
    if "\x00" in text:
        raise InvalidInput(f"{field}: this is not text; upload captions as {_FORMS}", field=field)
    return text


def _not_captions(field: str) -> InvalidInput:
    return InvalidInput(f"{field}: these are not captions we can read; upload {_FORMS}", field=field)


def _parse(text: str, form: str) -> webvtt.WebVTT:
    return webvtt.from_buffer(io.StringIO(text), format=form)


def _one_cue(timing: str, form: str) -> webvtt.Caption | None:
    """The cue webvtt-py reads from one line of times (with stand-in words), None if it cannot."""
    text = f"WEBVTT\n\n{timing}\n-\n" if form == "vtt" else f"1\n{timing}\n-\n"
    try:
        cues = _parse(text, form).captions
    except (MalformedFileError, MalformedCaptionError, ValueError):
        return None
    return cues[0] if len(cues) == 1 else None


def _matched_cues(text: str, form: str, parsed: list[webvtt.Caption], field: str) -> list[webvtt.Caption]:
    """The parsed cues, after checking that each line of cue times in ``text`` gave one."""
    lines = _LINE_BREAK.split(text)
    remaining = iter(parsed)
    upcoming = next(remaining, None)
    cues = []
    number = 0
    for index, line in enumerate(lines):
        if "-->" not in line:
            continue
        number += 1
        alone = _one_cue(line.strip(), form)
        if alone is None:
            raise InvalidInput(
                f"{field}: cue {number} (line {index + 1}) has times that cannot be read, “{line.strip()}”; "
                f"write them like {_EXAMPLE[form]}",
                field=field,
            )
        if upcoming is not None and _times(upcoming) == _times(alone):
            cues.append(upcoming)
            upcoming = next(remaining, None)
            continue
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if not following:
            raise _no_text(number, alone, field)
        layout = "its number, its times, then its words" if form == "srt" else "its times, then its words"
        raise InvalidInput(
            f"{field}: cue {number} (at {alone.start}, line {index + 1}) could not be read; each cue is {layout}, "
            "with an empty line between cues",
            field=field,
        )
    return cues


def _times(cue: webvtt.Caption) -> tuple[int, int]:
    return cue.start_time.in_milliseconds(), cue.end_time.in_milliseconds()


def _no_text(number: int, cue: webvtt.Caption, field: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: cue {number} (at {cue.start}) has no text; write the words said there or remove the cue",
        field=field,
    )


def _check_cue(number: int, cue: webvtt.Caption, duration: float | None, field: str) -> None:
    start, end = _times(cue)
    if not cue.text.strip():
        raise _no_text(number, cue, field)
    if end < start:
        raise InvalidInput(
            f"{field}: cue {number} (at {cue.start}) ends before it starts, at {cue.end}; correct its end time",
            field=field,
        )
    if end == start:
        raise InvalidInput(
            f"{field}: cue {number} (at {cue.start}) ends the moment it starts, so it would never be shown; "
            "correct its end time",
            field=field,
        )
    if duration is not None and start / 1000 > duration + END_TOLERANCE:
        raise InvalidInput(
            f"{field}: cue {number} starts at {cue.start}, after the video ends ({round(duration, 1):g} seconds); "
            "check the captions are this video's and correct the cue's time",
            field=field,
        )
