from __future__ import annotations

import io
import struct
import zlib

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from veriscan.analyzers.provenance.base import MAX_TEXT_BYTES
from veriscan.analyzers.provenance.metadata import read_metadata
from veriscan.analyzers.provenance.pngchunks import read_png_chunks


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with(info: PngInfo | None = None, after_idat: list[bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buf, "PNG", pnginfo=info)
    data = buf.getvalue()
    if after_idat:
        iend = data.rindex(b"IEND") - 4
        data = data[:iend] + b"".join(after_idat) + data[iend:]
    return data


def test_all_text_kinds_before_and_after_the_image_data() -> None:
    info = PngInfo()
    info.add_text("parameters", "a lighthouse\nSteps: 20")
    info.add_text("zipped", "x" * 5000, zip=True)
    info.add_itxt("prompt", '{"3": {"class_type": "KSampler"}}', zip=True)
    late = [chunk(b"tEXt", b"workflow\0{}"), chunk(b"tEXt", b"parameters\0second copy")]
    found = read_png_chunks(png_with(info, late))
    assert found.text["parameters"] == "a lighthouse\nSteps: 20", "first keyword wins"
    assert found.text["zipped"] == "x" * 5000
    assert found.text["prompt"].startswith('{"3"')
    assert found.text["workflow"] == "{}"
    assert found.problems == []


def test_exif_chunk_reaches_metadata_without_a_decode() -> None:
    exif = Image.Exif()
    exif[0x0131] = "NovelAI"
    data = png_with(after_idat=[chunk(b"eXIf", exif.tobytes())])
    meta = read_metadata(data, "x.png")
    assert meta.exif[0x0131] == "NovelAI"


def test_bombs_and_truncation_are_problems() -> None:
    bomb = zlib.compress(b"\0" * (MAX_TEXT_BYTES + 10))
    data = png_with(after_idat=[chunk(b"zTXt", b"k\0\0" + bomb), chunk(b"tEXt", b"nosep")])
    found = read_png_chunks(data)
    assert "k" not in found.text
    assert any("expands past" in p for p in found.problems)
    assert any("separator" in p for p in found.problems)
    truncated = read_png_chunks(data[: len(data) - 30])
    assert any("truncated" in p for p in truncated.problems)
    assert read_png_chunks(b"not a png").text == {}
