"""Memory and time of uploading a video, beside the naive way that reads the upload into memory.

    .venv/bin/python bench/bench_media.py [MEGABYTES ...]      (default 50 200)

Makes an H.264 MP4 of about MEGABYTES (PyAV, noise frames, so it does not compress), starts
`lockdown serve` in its own process, uploads the video with its captions over HTTP
(`POST /api/v1/media`: streamed to a spool file, probed and remuxed by FFmpeg through PyAV,
kept content-addressed), and reads the server's peak resident memory (VmHWM) before and after.
The naive way runs in its own process: a Flask view that reads the upload with `.read()`, hashes
it and writes it out, as a handler written without thinking about size would; the same file is
sent to it. Peak growth is what the upload cost each process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import requests
from common import Served, Table, free_port, ratio, seed
from PIL import Image

SRT = "1\n00:00:00,000 --> 00:00:01,000\nBench.\n"
NAIVE = r"""
import hashlib, sys
from flask import Flask, request
app = Flask("naive")

@app.post("/upload")
def upload():
    data = request.files["file"].read()
    digest = hashlib.sha256(data).hexdigest()
    with open(sys.argv[2], "wb") as out:
        out.write(data)
    return {"sha256": digest, "bytes": len(data)}

@app.get("/memory")
def memory():
    status = open("/proc/self/status").read()
    return {key: int(status.split(key + ":")[1].split()[0]) for key in ("VmRSS", "VmHWM")}

from waitress import serve
serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=1, _quiet=True)
"""


def make_video(path: Path, megabytes: int) -> int:
    """An MP4 of about ``megabytes``: lossless H.264 of random noise, 640x360 at 25 fps."""
    frame_bytes = 640 * 360 * 3
    frames = max(25, megabytes * 1024 * 1024 * 2 // (frame_bytes))
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "0", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.time_base = Fraction(1, 25)
        written = 0
        for index in range(frames):
            noise = Image.frombytes("RGB", (640, 360), os.urandom(frame_bytes))
            picture = av.VideoFrame.from_image(noise)
            picture.pts = index
            for packet in stream.encode(picture):
                written += packet.size
                container.mux(packet)
            if written >= megabytes * 1024 * 1024:
                break
        for packet in stream.encode():
            container.mux(packet)
    return path.stat().st_size


def upload_to_lockdown(folder: Path, video: Path) -> tuple[float, int, int]:
    """Seconds, and peak KiB before and after, of one upload to `lockdown serve`."""
    seeded = seed(folder / "media.db", 5, 0)
    server = Served({**seeded.env, "LOCKDOWN_MEDIA_DIR": str(folder / "media")}, folder / "serve.log", "--no-scheduler")
    try:
        before = server.memory_kib()["VmHWM"]
        start = time.perf_counter()
        with video.open("rb") as clip:
            answer = requests.post(
                f"{server.url}/api/v1/media",
                files={"file": ("clip.mp4", clip, "video/mp4"), "captions": ("clip.srt", SRT.encode(), "text/plain")},
                data={"alt_text": "Bench"},
                headers={"Authorization": f"Bearer {seeded.press_token}"},
                timeout=600,
            )
        seconds = time.perf_counter() - start
        assert answer.status_code == 201, answer.text
        after = server.memory_kib()["VmHWM"]
    finally:
        server.stop()
        seeded.ctx.db.close()
    return seconds, before, after


def upload_naively(folder: Path, video: Path) -> tuple[float, int, int]:
    """The same upload to a handler that reads it into memory."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", NAIVE, str(port), str(folder / "naive.out")])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                before = requests.get(f"{url}/memory", timeout=2).json()["VmHWM"]
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        start = time.perf_counter()
        with video.open("rb") as clip:
            answer = requests.post(f"{url}/upload", files={"file": ("clip.mp4", clip, "video/mp4")}, timeout=600)
        seconds = time.perf_counter() - start
        assert answer.ok, answer.text
        after = requests.get(f"{url}/memory", timeout=2).json()["VmHWM"]
    finally:
        process.terminate()
        process.wait(timeout=30)
    return seconds, before, after


def measure(sizes: list[int] | None = None) -> Table:
    table = Table(
        "Uploading a video",
        f"bench/bench_media.py {' '.join(map(str, sizes or [50, 200]))}",
        ("handler", "video MiB", "seconds", "peak growth MiB", "naive / ours (memory)"),
    )
    for megabytes in sizes or [50, 200]:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            video = folder / "clip.mp4"
            size = make_video(video, megabytes)
            ours = upload_to_lockdown(folder, video)
            naive = upload_naively(folder, video)
        grown, naive_grown = (ours[2] - ours[1]) / 1024, (naive[2] - naive[1]) / 1024
        table.rows += [
            ("lockdown: streamed, probed, remuxed, kept", size / 2**20, ours[0], grown, ratio(naive_grown, grown)),
            ("naive: .read() into memory, hashed, written", size / 2**20, naive[0], naive_grown, "1x"),
        ]
    table.notes.append(
        "Peak growth is VmHWM after the upload minus VmHWM before it, in each server process. Lockdown's time "
        "includes FFmpeg's probe and remux and the SHA-256 of the cleaned file; the naive handler checks nothing."
    )
    return table


def main() -> None:
    print(measure([int(a) for a in sys.argv[1:]] or None).markdown())


if __name__ == "__main__":
    main()
