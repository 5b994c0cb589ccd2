"""Hostile and broken media made in code, for the robustness tests (issue 15, items 12 and 13).

Everything starts from drawn shapes (benign by construction) and is then damaged the way a fuzzer
or a hostile sender would damage it: bit flips, cuts, duplicated chunks, EXIF directories that
loop or claim absurd counts, headers that declare billions of pixels. The RAW builders wrap a drawn
JPEG in the container layouts cameras use, so the preview path can be tested without real RAWs.
"""

from __future__ import annotations

import io
import random
import struct
import tarfile
import zipfile
import zlib

from PIL import Image, ImageDraw

FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "TIFF")
SUFFIX = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp", "TIFF": "tif"}


def drawn(seed: int, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """Sky, sun and two hills; different per seed."""
    rnd = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size, (rnd.randrange(80, 160), rnd.randrange(140, 220), 240))
    draw = ImageDraw.Draw(img)
    draw.ellipse((w * 0.6, h * 0.1, w * 0.8, h * 0.4), fill=(250, 210, 60))
    draw.polygon([(0, h), (w * 0.4, h * 0.45), (w * 0.8, h)], fill=(40, 130, 50))
    draw.rectangle((0, h * 0.8, w, h), fill=(rnd.randrange(20, 90), 100, 40))
    return img


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def drawn_video(container: str, seed: int, frames: int = 12) -> bytes:
    """A short clip (MP4 or Matroska) of the drawn scene with the sun moving across it."""
    import av  # only the video cases need PyAV

    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    out = io.BytesIO()
    with av.open(out, "w", format=container) as clip:
        stream = clip.add_stream(codec, rate=6)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(frames):
            img = drawn(seed)
            ImageDraw.Draw(img).ellipse((4 * i, 4, 4 * i + 16, 20), fill=(250, 240, 120))
            clip.mux(stream.encode(av.VideoFrame.from_image(img)))
        clip.mux(stream.encode())
    return out.getvalue()


def drawn_file(fmt: str, seed: int) -> bytes:
    """A small drawn image; GIF and WebP are animated (three frames) so frame parsing is reached."""
    img = drawn(seed)
    if fmt in ("GIF", "WEBP"):
        frames = [drawn(seed + i) for i in range(1, 3)]
        return encode(img, fmt, save_all=True, append_images=frames, duration=80, loop=0)
    if fmt == "JPEG":
        exif = Image.Exif()
        exif[0x010F] = "DrawCam"
        exif[0x0110] = "Shapes 1"
        return encode(img, fmt, quality=85, exif=exif)
    return encode(img, fmt)


# --- mutations ----------------------------------------------------------------------------------


def bit_flips(data: bytes, rnd: random.Random, flips: int) -> bytes:
    raw = bytearray(data)
    for _ in range(flips):
        pos = rnd.randrange(len(raw))
        raw[pos] ^= 1 << rnd.randrange(8)
    return bytes(raw)


def truncated(data: bytes, rnd: random.Random) -> bytes:
    return data[: rnd.randrange(1, max(2, len(data) - 1))]


def duplicated_chunk(data: bytes, rnd: random.Random) -> bytes:
    """A slice of the file copied in again somewhere else, as a bad splice or a fuzzer does."""
    start = rnd.randrange(len(data))
    piece = data[start : start + rnd.randrange(4, 256)]
    at = rnd.randrange(len(data))
    return data[:at] + piece + data[at:]


def mutate(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    kind = rnd.choice(("flip", "flip", "cut", "dup"))
    if kind == "flip":
        return kind, bit_flips(data, rnd, rnd.randrange(1, 12))
    if kind == "cut":
        return kind, truncated(data, rnd)
    return kind, duplicated_chunk(data, rnd)


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# --- hand-made hostile structures ---------------------------------------------------------------


def _ifd(entries: list[tuple[int, int, int, bytes]], next_ifd: int) -> bytes:
    """A little-endian IFD: (tag, type, count, 4-byte value or offset) entries, then the link."""
    body = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        body += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\0")
    return body + struct.pack("<I", next_ifd)


def exif_jpeg(tiff: bytes, seed: int = 1) -> bytes:
    """A drawn JPEG whose APP1 holds ``tiff`` as its EXIF block, whatever that block contains."""
    plain = encode(drawn(seed), "JPEG", quality=85)
    app1 = b"Exif\0\0" + tiff
    segment = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    return plain[:2] + segment + plain[2:]


def exif_ifd_loop() -> bytes:
    """IFD0 names itself as the next IFD and as its own EXIF sub-IFD."""
    ifd = _ifd([(0x010F, 2, 4, b"Cam\0"), (0x8769, 4, 1, struct.pack("<I", 8))], next_ifd=8)
    return exif_jpeg(b"II*\0" + struct.pack("<I", 8) + ifd)


def exif_huge_count() -> bytes:
    """An ASCII tag claiming 2^31 bytes and an IFD claiming 65,535 entries in a 60-byte block."""
    ifd = _ifd([(0x010F, 2, 0x7FFFFFFF, struct.pack("<I", 26))], next_ifd=0)
    liar = struct.pack("<H", 0xFFFF) + b"\0" * 24
    return exif_jpeg(b"II*\0" + struct.pack("<I", 8) + ifd + liar)


def tiff_ifd_loop() -> bytes:
    """A valid TIFF whose first IFD links back to itself: every page is the same page, forever."""
    data = bytearray(encode(drawn(3), "TIFF"))
    first = struct.unpack_from("<I", data, 4)[0]
    count = struct.unpack_from("<H", data, first)[0]
    struct.pack_into("<I", data, first + 2 + 12 * count, first)
    return bytes(data)


def gif_cut_in_half() -> bytes:
    data = drawn_file("GIF", 5)
    return data[: len(data) // 2]


def png_pixel_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` pixels, with one tiny IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gif_pixel_bomb() -> bytes:
    """A GIF whose logical screen and first frame claim 65,535 x 65,535 pixels."""
    data = bytearray(drawn_file("GIF", 7))
    struct.pack_into("<HH", data, 6, 0xFFFF, 0xFFFF)
    pos = data.find(b"\x2c", 13)
    struct.pack_into("<HH", data, pos + 5, 0xFFFF, 0xFFFF)
    return bytes(data)


def hostile_images() -> dict[str, bytes]:
    """The named cases item 12 lists, by file name."""
    return {
        "exif-ifd-loop.jpg": exif_ifd_loop(),
        "exif-huge-count.jpg": exif_huge_count(),
        "tiff-ifd-loop.tif": tiff_ifd_loop(),
        "gif-cut-in-half.gif": gif_cut_in_half(),
        "png-pixel-bomb.png": png_pixel_bomb(),
        "gif-pixel-bomb.gif": gif_pixel_bomb(),
    }
