"""vPDQ: the PDQ hash of video frames sampled at a fixed presentation-time interval.

Video hash lists shared between platforms (ThreatExchange vPDQ) are lists of per-frame PDQ
hashes, matched frame set against frame set, so a frame has to hash the way the upstream
``vpdq`` C++ hasher hashes it: the decoder's frame at its stored size (rotation metadata is not
applied), converted to RGB24 with FFmpeg's default matrix, handed to PDQ. PyAV decodes with the
same FFmpeg, which keeps per-frame hashes within a few bits of the published sample hashes.

Upstream picks every ``int(fps * seconds)``-th decoded frame; this analyzer picks the first frame
at or after each multiple of the interval on the presentation clock instead. That gives the same
frames for whole-number rates (checked against the 30 fps sample videos), stays one per interval
for variable-rate phone footage, and does not drift at 29.97 fps, where upstream takes every 29th
frame. Timestamps are seconds from the first decoded frame, as upstream's ``frame / fps`` starts
at zero; frames are hashed in decoder output order, which is upstream's frame numbering.

Evidence can be hostile: the demuxer is pinned to the container the sniffer recognised (so a
crafted file cannot reach FFmpeg's playlist or concat demuxers, which open other files), frames
over :data:`MAX_FRAME_PIXELS` are refused before they are converted, and both hashed and decoded
frames are capped so the work per file has a ceiling whatever the timestamps claim.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import av
import av.container
import av.error
import av.stream
import av.video
import numpy as np
import pdqhash

from veriscan.analyzers.base import Analyzer, FileContext
from veriscan.analyzers.failures import INTERNAL, log_exception
from veriscan.analyzers.pdq import bits_to_hex
from veriscan.domain import Attribute, Fact, Problem, ProblemCode

DEMUXERS: dict[str, str] = {
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "video/x-matroska": "matroska",
    "video/webm": "matroska",
    "video/x-msvideo": "avi",
    "video/mp2t": "mpegts",
    "video/mpeg": "mpeg",
    "video/dvd": "mpeg",
    "video/x-flv": "flv",
    "video/x-ms-wmv": "asf",
    "video/x-ms-asf": "asf",
}
"""Plain containers only, each pinned by the type the sniffer (own table or puremagic) found."""
PROBE_WHITELIST = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,mpeg"
MAX_FRAME_PIXELS = 7680 * 4320
MAX_SOURCE_FPS = 240
MAX_PACKET_ERRORS = 50
MISSING_FRAMES_TOLERATED = 2
MISSING_SECONDS_TOLERATED = 1
FALLBACK_RATE = Fraction(25)


class _StopError(Exception):
    """Ends sampling early with the Problem that explains why; frames so far are kept."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class VpdqAnalyzer(Analyzer):
    """Per-frame PDQ hashes and qualities of the first video stream, one per sampling interval."""

    id = "vpdq"
    version = "1"

    def wants(self, mime: str) -> bool:
        return mime.startswith("video/")

    def analyze(self, ctx: FileContext) -> list[Fact]:
        interval_ms = self.settings.vpdq_interval_ms
        try:
            container = open_video(ctx.data, ctx.mime)
        except Exception as exc:  # FFmpeg reports unreadable input in several exception types
            message = f"cannot open video: {reason(exc)}"
            return [Problem(self.id, message, code=ProblemCode.VIDEO_DECODE_ERROR)]
        with container:
            stream = main_video(container)
            if stream is None:
                return [
                    Problem(
                        self.id, "the file has no video stream", code=ProblemCode.NO_VIDEO_STREAM
                    )
                ]
            sampler = _Sampler(self.id, interval_ms, self.settings.vpdq_max_frames)
            problems = sampler.run(container, stream)
            duration = _duration(container, stream)
        facts: list[Fact] = [
            Attribute("frames", sampler.frames),
            Attribute("interval_ms", interval_ms),
            Attribute("duration", duration),
            Attribute("decoded_frames", sampler.decoded),
        ]
        return facts + problems


def open_video(data: bytes, mime: str) -> av.container.InputContainer:
    """Open with the demuxer the sniffed type names, or probe among plain containers only."""
    demuxer = DEMUXERS.get(mime)
    if demuxer is not None:
        return av.open(io.BytesIO(data), mode="r", format=demuxer)
    options = {"format_whitelist": PROBE_WHITELIST}
    return av.open(io.BytesIO(data), mode="r", options=options)


def main_video(container: av.container.InputContainer) -> av.video.VideoStream | None:
    """The first video stream that moves: cover art (an attached picture) also counts as video to
    FFmpeg, and an audio file with a cover is not a one-frame video."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def frame_pdq(frame: av.VideoFrame) -> tuple[str, int]:
    """(64 hex digits, quality) of one decoded frame at its stored size, as upstream vpdq does."""
    rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
    vector, quality = pdqhash.compute(rgb)
    return bits_to_hex(np.asarray(vector)), int(quality)


class _Sampler:
    """Walks one stream's frames in presentation order and hashes the ones that fall due."""

    def __init__(self, analyzer: str, interval_ms: int, max_frames: int) -> None:
        self.analyzer = analyzer
        self.interval = Fraction(interval_ms, 1000)
        self.max_frames = max_frames
        per_sample = max(1, math.ceil(interval_ms * MAX_SOURCE_FPS / 1000))
        self.max_decoded = (max_frames + 1) * per_sample
        self.frames: list[list[Any]] = []
        self.decoded = 0
        self.packet_errors = 0
        self.origin: Fraction | None = None
        self.last_end: Fraction | None = None
        self.next_due = Fraction(0)
        self.rate = FALLBACK_RATE

    def run(
        self, container: av.container.InputContainer, stream: av.video.VideoStream
    ) -> list[Problem]:
        self.rate = stream.average_rate or stream.guessed_rate or FALLBACK_RATE
        problems: list[Problem] = []
        try:
            codec = stream.codec_context
            if codec is None:
                raise _StopError(self._problem("no decoder for the video stream's codec"))
            _check_size(self.analyzer, codec.width, codec.height)
            for frame in self._frames(container, stream):
                self._take(frame)
        except _StopError as stop:
            problems.append(stop.problem)
        except Exception as exc:  # a hostile stream must cost this file, not the run
            message = f"decoding stopped after {self.decoded} frames: {reason(exc)}"
            problems.append(self._problem(message))
        notes = [f"{self.packet_errors} packet(s) failed to decode"] if self.packet_errors else []
        shortfall = None if problems else self._shortfall(container, stream)
        if shortfall is not None:
            notes.append(shortfall)
        if notes:
            problems.append(self._problem("; ".join(notes)))
        return problems

    def _shortfall(
        self, container: av.container.InputContainer, stream: av.video.VideoStream
    ) -> str | None:
        """Why the frames look cut short: a truncated file often ends without a decoder error."""
        if self.decoded == 0:
            return "no frame could be decoded"
        declared = stream.frames
        if declared and declared - self.decoded > MISSING_FRAMES_TOLERATED:
            return f"decoded {self.decoded} of the {declared} frames the container declares"
        end = _declared_end(container, stream)
        last = self.last_end
        if end is not None and last is not None and end - last > MISSING_SECONDS_TOLERATED:
            return f"frames end at {float(last):.3f} s of a declared {float(end):.3f} s"
        return None

    def _frames(
        self, container: av.container.InputContainer, stream: av.video.VideoStream
    ) -> Iterator[av.VideoFrame]:
        """Decoded frames; a packet the decoder rejects is skipped, as the ffmpeg tool does."""
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                self.packet_errors += 1
                if self.packet_errors > MAX_PACKET_ERRORS:
                    message = f"more than {MAX_PACKET_ERRORS} packets failed: {reason(exc)}"
                    raise _StopError(self._problem(message)) from exc
                continue
            for frame in frames:
                if isinstance(frame, av.VideoFrame):
                    yield frame

    def _take(self, frame: av.VideoFrame) -> None:
        index = self.decoded
        self.decoded += 1
        if self.decoded > self.max_decoded:
            hashed = len(self.frames)
            message = f"truncated: {self.max_decoded} frames decoded, {hashed} of them hashed"
            raise _StopError(self._limit(message))
        when = self._seconds(frame, index)
        if self.interval and when < self.next_due:
            return
        if len(self.frames) >= self.max_frames:
            message = f"truncated at the {self.max_frames}-frame limit, at {float(when):.3f} s"
            raise _StopError(self._limit(message))
        _check_size(self.analyzer, frame.width, frame.height)
        hash_hex, quality = frame_pdq(frame)
        self.frames.append([round(float(when), 3), quality, hash_hex])
        if self.interval:
            self.next_due = (math.floor(when / self.interval) + 1) * self.interval

    def _seconds(self, frame: av.VideoFrame, index: int) -> Fraction:
        """Presentation time relative to the first frame; frame count over rate if pts is absent."""
        base = frame.time_base
        if frame.pts is not None and base:
            absolute = frame.pts * Fraction(base)
        else:
            absolute = (self.origin or Fraction(0)) + index / Fraction(self.rate)
        if self.origin is None:
            self.origin = absolute
        self.last_end = absolute + 1 / Fraction(self.rate)
        return absolute - self.origin

    def _problem(self, message: str) -> Problem:
        return Problem(self.analyzer, message, code=ProblemCode.VIDEO_DECODE_ERROR)

    def _limit(self, message: str) -> Problem:
        return Problem(self.analyzer, message, code=ProblemCode.VPDQ_FRAME_LIMIT)


def reason(exc: BaseException) -> str:
    """FFmpeg's own words (a fixed set, such as "Invalid data found when processing input");
    PyAV's str() adds an errno and a placeholder file name. Anything that is not FFmpeg speaking
    is a gap in this program, not a property of the file: it goes to the run log."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    if isinstance(exc, MemoryError):
        return "not enough memory to decode the frames"
    log_exception("video decode", "a video stream", exc)
    return INTERNAL


def _check_size(analyzer: str, width: int, height: int) -> None:
    if width * height > MAX_FRAME_PIXELS:
        message = f"{width}x{height} frames exceed the {MAX_FRAME_PIXELS}-pixel limit"
        raise _StopError(Problem(analyzer, message, code=ProblemCode.VIDEO_TOO_LARGE))


def _declared_end(
    container: av.container.InputContainer, stream: av.video.VideoStream
) -> Fraction | None:
    """Where the video should end on its own clock; the container's figure only when nothing
    else (an audio track that runs longer) can account for it."""
    if stream.duration and stream.time_base:
        return (stream.start_time or 0) * stream.time_base + stream.duration * stream.time_base
    if len(container.streams) == 1 and container.duration:
        return Fraction((container.start_time or 0) + container.duration, av.time_base)
    return None


def _duration(container: av.container.InputContainer, stream: av.video.VideoStream) -> float | None:
    """The stream's own duration where the container records one, else the container's."""
    if stream.duration and stream.time_base:
        return round(float(stream.duration * stream.time_base), 3)
    if container.duration:
        return round(container.duration / av.time_base, 3)
    return None
