"""Carving by structure: benign drawn images hidden in zero or random filler."""

from __future__ import annotations

import hashlib
import io
import random
import struct

import pytest
from PIL import Image

from conftest import draw_scene, encode
from veriscan.sources.carve import Carved, carve


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Region:
    """A byte region behind a read_at that checks every call stays inside it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.largest = 0

    def read_at(self, offset: int, length: int) -> bytes:
        assert offset >= 0 and length >= 0 and offset + length <= len(self.data)
        self.largest = max(self.largest, length)
        return self.data[offset : offset + length]

    def carve(self, **kw: int) -> list[Carved]:
        return list(carve(self.read_at, len(self.data), **kw))


def _layout(
    files: list[tuple[str, bytes]], filler: str, seed: int = 0
) -> tuple[bytes, list[tuple[Carved, str]]]:
    """Files at varied, odd offsets between filler gaps; returns the region and what to expect."""
    rnd = random.Random(seed)
    out = bytearray()
    expected: list[tuple[Carved, str]] = []

    def gap(n: int) -> bytes:
        return rnd.randbytes(n) if filler == "random" else bytes(n)

    for kind, blob in files:
        out += gap(rnd.randrange(1, 9000))
        expected.append((Carved(len(out), len(blob), kind), _sha(blob)))
        out += blob
    out += gap(5000)
    return bytes(out), expected


def _exif_thumbnail_jpeg() -> tuple[bytes, bytes]:
    """A JPEG whose APP1 carries a JPEG thumbnail, the way cameras write one."""
    thumb = encode(draw_scene(40, (80, 60)), "JPEG", quality=70)
    main = encode(draw_scene(41), "JPEG", quality=88)
    # Little-endian TIFF: empty IFD0 pointing at IFD1, which locates the thumbnail.
    ifd1 = struct.pack("<H", 2)
    ifd1 += struct.pack("<HHII", 0x0201, 4, 1, 8 + 6 + 30)
    ifd1 += struct.pack("<HHII", 0x0202, 4, 1, len(thumb))
    ifd1 += struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<HI", 0, 14) + ifd1 + thumb
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return main[:2] + app1 + main[2:], thumb


def _animated_gif() -> bytes:
    frames = [draw_scene(50 + i, (120, 90)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


@pytest.fixture(scope="module")
def samples() -> dict[str, tuple[str, bytes]]:
    with_thumb, thumb = _exif_thumbnail_jpeg()
    assert thumb in with_thumb
    with Image.open(io.BytesIO(with_thumb)) as im:
        im.load()
    gif_anim = _animated_gif()
    with Image.open(io.BytesIO(gif_anim)) as im:
        assert getattr(im, "n_frames", 1) >= 2
    restart = encode(draw_scene(3), "JPEG", quality=80, restart_marker_blocks=2)
    assert b"\xff\xdd" in restart and b"\xff\xd0" in restart
    return {
        "jpeg": ("jpeg", encode(draw_scene(1), "JPEG", quality=85)),
        "jpeg_progressive": ("jpeg", encode(draw_scene(2), "JPEG", progressive=True)),
        "jpeg_restart": ("jpeg", restart),
        "jpeg_thumb": ("jpeg", with_thumb),
        "png": ("png", encode(draw_scene(5), "PNG")),
        "gif": ("gif", encode(draw_scene(6), "GIF")),
        "gif_animated": ("gif", gif_anim),
        "webp_lossy": ("webp", encode(draw_scene(7), "WEBP", quality=80)),
        "webp_lossless": ("webp", encode(draw_scene(8), "WEBP", lossless=True)),
        "webp_alpha": ("webp", encode(draw_scene(9).convert("RGBA"), "WEBP", exif=b"Exif\0\0")),
    }


@pytest.mark.parametrize("filler", ["zeros", "random"])
@pytest.mark.parametrize("window", [4 << 20, 4096, 777])
def test_finds_every_file_whole(
    samples: dict[str, tuple[str, bytes]], filler: str, window: int
) -> None:
    data, expected = _layout(list(samples.values()), filler)
    region = Region(data)
    found = region.carve(window=window)
    assert found == [carved for carved, _ in expected]
    for carved, digest in expected:
        assert _sha(data[carved.offset : carved.offset + carved.length]) == digest
    assert {c.extension for c in found} == {"jpg", "png", "gif", "webp"}


def test_exif_thumbnail_is_not_reported_again(samples: dict[str, tuple[str, bytes]]) -> None:
    blob = samples["jpeg_thumb"][1]
    region = Region(bytes(100) + blob + bytes(100))
    assert region.carve() == [Carved(100, len(blob), "jpeg")]


def test_thumbnail_is_found_when_its_host_is_broken(samples: dict[str, tuple[str, bytes]]) -> None:
    blob = samples["jpeg_thumb"][1]
    cut = blob[: len(blob) - 300]
    _, thumb = _exif_thumbnail_jpeg()
    found = Region(bytes(64) + cut + bytes(64)).carve()
    assert found == [Carved(64 + cut.index(thumb), len(thumb), "jpeg")]


@pytest.mark.parametrize(
    "name", ["jpeg", "jpeg_progressive", "png", "gif_animated", "webp_lossy", "webp_lossless"]
)
@pytest.mark.parametrize("shift", range(-9, 3))
def test_signature_straddling_a_window_boundary_is_found_once(
    samples: dict[str, tuple[str, bytes]], name: str, shift: int
) -> None:
    kind, blob = samples[name]
    window = 512
    assert len(blob) > window  # also: a file larger than the window is carved whole
    offset = 2 * window + shift
    region = Region(bytes(offset) + blob + bytes(3000))
    assert region.carve(window=window) == [Carved(offset, len(blob), kind)]


@pytest.mark.parametrize("shift", range(-9, 3))
def test_signature_across_a_zero_block_edge(
    samples: dict[str, tuple[str, bytes]], shift: int
) -> None:
    """All-zero 4 KiB blocks are skipped: a file starting just before one's edge must survive."""
    for kind, blob in samples.values():
        offset = 3 * 4096 + shift
        region = Region(bytes(offset) + blob + bytes(9000))
        assert region.carve() == [Carved(offset, len(blob), kind)]


def test_tiny_window_still_finds_everything(samples: dict[str, tuple[str, bytes]]) -> None:
    files = [samples["gif"], samples["webp_lossless"]]
    data, expected = _layout(files, "zeros", seed=3)
    assert Region(data).carve(window=1) == [c for c, _ in expected]


def test_files_back_to_back(samples: dict[str, tuple[str, bytes]]) -> None:
    blobs = [samples[n] for n in ("png", "jpeg", "jpeg_restart", "gif", "webp_lossy", "png")]
    data = b"".join(b for _, b in blobs)
    found = Region(data).carve(window=4096)
    assert [(c.kind, c.length) for c in found] == [(k, len(b)) for k, b in blobs]


def _only_survivor(samples: dict[str, tuple[str, bytes]], broken: bytes) -> None:
    """The broken candidate is dropped and the valid PNG right after it is still found."""
    png = samples["png"][1]
    data = bytes(33) + broken + bytes(17) + png + bytes(40)
    offset = 33 + len(broken) + 17
    assert Region(data).carve() == [Carved(offset, len(png), "png")]
    assert Region(data).carve(window=4096) == [Carved(offset, len(png), "png")]


def test_png_with_flipped_byte_fails_crc(samples: dict[str, tuple[str, bytes]]) -> None:
    png = bytearray(samples["png"][1])
    png[len(png) // 2] ^= 0x01
    _only_survivor(samples, bytes(png))


def test_truncated_jpeg_is_dropped(samples: dict[str, tuple[str, bytes]]) -> None:
    for name in ("jpeg", "jpeg_progressive", "jpeg_restart"):
        blob = samples[name][1]
        _only_survivor(samples, blob[: len(blob) - 2])
        _only_survivor(samples, blob[: len(blob) // 2])


def test_truncated_jpeg_does_not_swallow_the_next_one(
    samples: dict[str, tuple[str, bytes]],
) -> None:
    first, second = samples["jpeg"][1], samples["jpeg_progressive"][1]
    cut = first[: len(first) // 2]
    data = cut + second + bytes(10)
    assert Region(data).carve() == [Carved(len(cut), len(second), "jpeg")]


def test_gif_without_trailer(samples: dict[str, tuple[str, bytes]]) -> None:
    for name in ("gif", "gif_animated"):
        blob = samples[name][1]
        assert blob.endswith(b";")
        _only_survivor(samples, blob[:-1])


def test_webp_running_past_the_region(samples: dict[str, tuple[str, bytes]]) -> None:
    blob = samples["webp_lossy"][1]
    assert Region(bytes(500) + blob[:-1]).carve() == []
    grown = bytearray(blob)
    grown[4:8] = struct.pack("<I", len(blob) + 1000)
    _only_survivor(samples, bytes(grown))


def test_signature_only_garbage(samples: dict[str, tuple[str, bytes]]) -> None:
    junk = random.Random(9).randbytes(3000)
    for sig in (b"\xff\xd8\xff", b"GIF89a", b"GIF87a", b"\x89PNG\r\n\x1a\n", b"RIFF"):
        _only_survivor(samples, sig + junk)
        assert Region(sig + junk).carve() == []
        assert Region(sig).carve() == []
    _only_survivor(samples, b"RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00abcd")
    _only_survivor(samples, b"\xff\xd8\xff\xd9")  # EOI before any image


def test_max_file_bytes(samples: dict[str, tuple[str, bytes]]) -> None:
    for name, (kind, blob) in samples.items():
        region = Region(bytes(10) + blob + bytes(10))
        over = region.carve(max_file_bytes=len(blob) - 1)
        if name == "jpeg_thumb":  # the host is over the limit, its thumbnail on its own is not
            assert [c.offset for c in over] == [10 + blob.index(b"\xff\xd8\xff", 2)]
        else:
            assert over == []
        assert region.carve(max_file_bytes=len(blob)) == [Carved(10, len(blob), kind)]


def test_large_files_with_bounded_reads() -> None:
    noise = Image.effect_noise((1600, 1200), 60).convert("RGB")
    scene = draw_scene(60, (1600, 1200))
    big = Image.blend(scene, noise, 0.5)
    jpeg = encode(big, "JPEG", quality=97)
    png = encode(big, "PNG")
    assert len(jpeg) > 1 << 20 and len(png) > 1 << 20
    data = bytes(1000) + jpeg + bytes(1000) + png + bytes(1000)
    region = Region(data)
    found = region.carve(window=1 << 16)
    assert found == [
        Carved(1000, len(jpeg), "jpeg"),
        Carved(2000 + len(jpeg), len(png), "png"),
    ]
    assert region.largest <= 1 << 20  # whole files are never read in one go


def test_read_errors_propagate(samples: dict[str, tuple[str, bytes]]) -> None:
    blob = samples["jpeg"][1]
    data = bytes(100) + blob + bytes(100)

    def broken(offset: int, length: int) -> bytes:
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError, match="Input/output"):
        list(carve(broken, len(data)))

    window = 1024
    assert len(blob) > 2 * window

    def flaky(offset: int, length: int) -> bytes:
        # Window reads (at multiples of the window) succeed; the reads that validating the JPEG
        # needs past its first window fail, and must not be taken for a malformed candidate.
        if offset % window:
            raise OSError(5, "Input/output error")
        return data[offset : offset + length]

    with pytest.raises(OSError, match="Input/output"):
        list(carve(flaky, len(data), window=window))


def test_empty_zero_and_random_regions_yield_nothing() -> None:
    assert Region(b"").carve() == []
    assert Region(bytes(1 << 20)).carve(window=1 << 16) == []
    noise = random.Random(1234).randbytes(2 << 20)
    assert Region(noise).carve() == []
    assert Region(noise).carve(window=4096) == []


def test_short_read_ends_the_region(samples: dict[str, tuple[str, bytes]]) -> None:
    blob = samples["png"][1]
    data = bytes(10) + blob

    def read_at(offset: int, length: int) -> bytes:
        return data[offset : offset + length]

    assert list(carve(read_at, len(data) + 10_000)) == [Carved(10, len(blob), "png")]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        list(carve(Region(b"").read_at, 0, window=0))
    with pytest.raises(ValueError):
        list(carve(Region(b"").read_at, 0, max_file_bytes=0))


def test_extension() -> None:
    assert Carved(0, 1, "jpeg").extension == "jpg"
    assert Carved(0, 1, "webp").extension == "webp"
