"""VpdqAnalyzer on short videos of moving coloured rectangles encoded in the test with PyAV."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import av
import av.stream
import numpy as np
import pdqhash
import pytest

from veriscan.analyzers import video
from veriscan.analyzers.base import FileContext
from veriscan.analyzers.pdq import bits_to_hex
from veriscan.analyzers.video import VpdqAnalyzer
from veriscan.domain import Attribute, Fact, Problem
from veriscan.plugins import load_registry
from veriscan.settings import Settings

CODEC = "libx264" if "libx264" in av.codecs_available else "mpeg4"
WIDTH, HEIGHT = 160, 120


def picture(i: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Navy background, a yellow and a green block sliding past each other."""
    a = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    a[:] = (20, 40, 90)
    x = 5 + 3 * i
    a[20:70, x : x + 40] = (250, 200, 30)
    a[60:110, WIDTH - x - 30 : WIDTH - x] = (30, 200, 120)
    return a


def encode(target: Any, fmt: str | None, seconds: int = 3, fps: int = 10, **opts: str) -> None:
    with av.open(target, "w", format=fmt, options=opts) as out:
        stream = out.add_stream(CODEC, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(picture(i), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def make_video(fmt: str = "mp4", seconds: int = 3, fps: int = 10) -> bytes:
    buf = io.BytesIO()
    encode(buf, fmt, seconds, fps)
    return buf.getvalue()


@pytest.fixture(scope="module")
def mp4() -> bytes:
    return make_video()


def run(data: bytes, mime: str = "video/mp4", **settings: Any) -> list[Fact]:
    s = Settings(**settings)
    return VpdqAnalyzer(s).analyze(FileContext("clip.mp4", data, mime, s))


def attrs(facts: list[Fact]) -> dict[str, Any]:
    return {f.name: f.value for f in facts if isinstance(f, Attribute)}


def problems(facts: list[Fact]) -> list[Problem]:
    return [f for f in facts if isinstance(f, Problem)]


def test_one_frame_per_second_by_default(mp4: bytes) -> None:
    facts = run(mp4)
    assert not problems(facts)
    a = attrs(facts)
    assert [row[0] for row in a["frames"]] == [0.0, 1.0, 2.0]
    assert a["interval_ms"] == 1000
    assert a["decoded_frames"] == 30
    assert a["duration"] == pytest.approx(3.0, abs=0.01)


def test_interval_zero_hashes_every_frame(mp4: bytes) -> None:
    a = attrs(run(mp4, vpdq_interval_ms=0))
    frames = a["frames"]
    assert len(frames) == a["decoded_frames"] == 30
    assert [row[0] for row in frames] == [round(i / 10, 3) for i in range(30)]
    for timestamp, quality, hash_hex in frames:
        assert isinstance(timestamp, float)
        assert isinstance(quality, int) and not isinstance(quality, bool)
        assert 0 <= quality <= 100
        assert len(hash_hex) == 64 and int(hash_hex, 16) >= 0 and hash_hex == hash_hex.lower()
    assert len({row[2] for row in frames}) > 20, "moving blocks should change the hash"


def test_takes_the_first_frame_at_or_after_each_multiple(mp4: bytes) -> None:
    frames = attrs(run(mp4, vpdq_interval_ms=250))["frames"]
    expected = [0.0, 0.3, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8, 2.0, 2.3, 2.5, 2.8]
    assert [row[0] for row in frames] == expected


def test_hashes_are_pdq_of_the_full_size_rgb_frame(mp4: bytes) -> None:
    with av.open(io.BytesIO(mp4), mode="r") as container:
        pictures = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert pictures[0].shape == (HEIGHT, WIDTH, 3)
    expected = []
    for rgb in pictures:
        vector, quality = pdqhash.compute(rgb)
        expected.append([bits_to_hex(np.asarray(vector)), int(quality)])
    got = [[h, q] for _, q, h in attrs(run(mp4, vpdq_interval_ms=0))["frames"]]
    assert got == expected


def test_facts_are_plain_json(mp4: bytes) -> None:
    import json

    for fact in run(mp4):
        assert isinstance(fact, Attribute)
        json.dumps(fact.value)


def test_timestamps_count_from_the_first_frame() -> None:
    """MPEG-TS starts its clock above zero; the hashes' clock starts at the first frame."""
    data = make_video("mpegts")
    with av.open(io.BytesIO(data), mode="r") as container:
        first = next(container.decode(video=0))
        assert first.time is not None and first.time > 0
    facts = run(data, mime="video/mp2t")
    assert [row[0] for row in attrs(facts)["frames"]] == [0.0, 1.0, 2.0]


def test_matroska_and_the_probe_fallback() -> None:
    data = make_video("matroska")
    for mime in ("video/x-matroska", "video/x-unknown"):
        facts = run(data, mime=mime)
        assert not problems(facts)
        assert len(attrs(facts)["frames"]) == 3


@pytest.mark.parametrize("data", [b"", b"\x00" * 64, os.urandom(4096)], ids=["empty", "nul", "rnd"])
@pytest.mark.parametrize("mime", ["video/mp4", "video/x-matroska", "video/x-unknown"])
def test_garbage_is_a_problem_not_an_exception(data: bytes, mime: str) -> None:
    facts = run(data, mime=mime)
    assert [p.code for p in problems(facts)] == ["video-decode-error"]


def test_truncated_mp4_without_an_index_is_a_problem(mp4: bytes) -> None:
    facts = run(mp4[: len(mp4) // 2])
    assert [p.code for p in problems(facts)] == ["video-decode-error"]


def test_truncated_faststart_mp4_keeps_what_decoded(tmp_path: Path) -> None:
    path = tmp_path / "fast.mp4"
    encode(str(path), None, movflags="faststart")
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "index should come first"
    facts = run(data[: int(len(data) * 0.6)], vpdq_interval_ms=0)
    a = attrs(facts)
    assert 0 < len(a["frames"]) < 30
    (problem,) = problems(facts)
    assert problem.code == "video-decode-error"
    assert "of the 30 frames" in problem.message


def test_truncated_matroska_keeps_what_decoded() -> None:
    data = make_video("matroska")
    facts = run(data[: int(len(data) * 0.6)], mime="video/x-matroska", vpdq_interval_ms=0)
    assert 0 < len(attrs(facts)["frames"]) < 30
    (problem,) = problems(facts)
    assert problem.code == "video-decode-error"
    assert "declared 3.000 s" in problem.message


def test_audio_only_file_has_no_video_stream() -> None:
    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        assert isinstance(stream, av.AudioStream)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16")
        frame.sample_rate, frame.pts = 8000, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    facts = run(buf.getvalue(), mime="video/x-matroska")
    assert facts == [Problem("vpdq", "the file has no video stream", code="no-video-stream")]


def test_cover_art_is_not_the_video() -> None:
    """An mp4 cover (attached picture) is a video stream to FFmpeg; alone it is not a video."""

    def with_cover(moving: bool) -> bytes:
        buf = io.BytesIO()
        with av.open(buf, "w", format="mp4") as out:
            if moving:
                clip = out.add_stream("mpeg4", rate=10)
                assert isinstance(clip, av.VideoStream)
                clip.width, clip.height, clip.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            else:
                sound = out.add_stream("aac", rate=8000)
                assert isinstance(sound, av.AudioStream)
            cover = out.add_stream("mjpeg", rate=1)
            assert isinstance(cover, av.VideoStream)
            cover.width, cover.height, cover.pix_fmt = 64, 64, "yuvj420p"
            cover.disposition = av.stream.Disposition.attached_pic
            still = np.full((64, 64, 3), 200, np.uint8)
            out.mux(cover.encode(av.VideoFrame.from_ndarray(still, format="rgb24")))
            out.mux(cover.encode())
            if moving:
                for i in range(20):
                    frame = av.VideoFrame.from_ndarray(picture(i), format="rgb24")
                    out.mux(clip.encode(frame))
                out.mux(clip.encode())
            else:
                tone = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp")
                tone.sample_rate, tone.pts = 8000, 0
                out.mux(sound.encode(tone))
                out.mux(sound.encode())
        return buf.getvalue()

    facts = run(with_cover(moving=True), vpdq_interval_ms=0)
    assert not problems(facts)
    assert len(attrs(facts)["frames"]) == 20
    assert [p.code for p in problems(run(with_cover(moving=False)))] == ["no-video-stream"]


def test_frame_limit_truncates_and_keeps_the_hashes(mp4: bytes) -> None:
    facts = run(mp4, vpdq_interval_ms=0, vpdq_max_frames=5)
    a = attrs(facts)
    assert [row[0] for row in a["frames"]] == [0.0, 0.1, 0.2, 0.3, 0.4]
    (problem,) = problems(facts)
    assert problem.code == "vpdq-frame-limit"
    assert "truncated" in problem.message


def test_frame_limit_that_is_not_reached_is_silent(mp4: bytes) -> None:
    assert not problems(run(mp4, vpdq_max_frames=3))
    facts = run(mp4, vpdq_max_frames=2)
    assert len(attrs(facts)["frames"]) == 2
    assert [p.code for p in problems(facts)] == ["vpdq-frame-limit"]


def test_decoding_is_capped_when_timestamps_never_fall_due(
    mp4: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap allows MAX_SOURCE_FPS frames per interval; at 1 fps, 10 fps video overruns it."""
    monkeypatch.setattr(video, "MAX_SOURCE_FPS", 1)
    facts = run(mp4, vpdq_max_frames=1)
    a = attrs(facts)
    assert len(a["frames"]) == 1 and a["decoded_frames"] == 3
    assert [p.code for p in problems(facts)] == ["vpdq-frame-limit"]


def test_oversized_frames_are_refused(mp4: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "MAX_FRAME_PIXELS", WIDTH * HEIGHT - 1)
    facts = run(mp4)
    assert attrs(facts)["frames"] == []
    assert [p.code for p in problems(facts)] == ["video-too-large"]


def test_a_failing_hasher_costs_the_file_not_the_run(
    mp4: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = iter(range(100))

    def flaky(frame: av.VideoFrame) -> tuple[str, int]:
        if next(calls) == 1:
            raise MemoryError("no room")
        return "0" * 64, 100

    monkeypatch.setattr(video, "frame_pdq", flaky)
    facts = run(mp4)
    assert len(attrs(facts)["frames"]) == 1
    (problem,) = problems(facts)
    assert problem.code == "video-decode-error" and "no room" not in problem.message
    assert problem.message.startswith("decoding stopped after ")
    assert problem.message.endswith(" frames: not enough memory to decode the frames")


def test_wants_video_only() -> None:
    analyzer = VpdqAnalyzer(Settings())
    assert analyzer.wants("video/mp4") and analyzer.wants("video/x-matroska")
    assert not analyzer.wants("image/jpeg") and not analyzer.wants("audio/mp4")


def test_registered_through_entry_points() -> None:
    registry = load_registry()
    assert registry.get("analyzers", "vpdq") is VpdqAnalyzer
    assert VpdqAnalyzer.version == "1"
