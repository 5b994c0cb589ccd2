"""Generation metadata hidden in pixel least-significant bits ("stealth pnginfo").

The sd_webui_stealth_pnginfo extension (A1111, Forge) and NovelAI write their parameters into the
pixels themselves, so the text survives metadata stripping by image hosts and chat apps. Pixels
are read column by column (x outer, y inner); the alpha variants take one bit per pixel from the
alpha LSB, the RGB variants three (R, G, B LSBs). The bit stream is a 15-byte signature, a 32-bit
big-endian payload length in bits, then the payload, gzip-compressed for the ``*comp`` kinds.

Only the leading columns that hold the stream are converted to an array: the payload sits at the
start of the image, and evidence images can be hundreds of megapixels.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from veriscan.analyzers.provenance.base import MAX_TEXT_BYTES, ProvenanceError

ALPHA_KINDS = ("stealth_pnginfo", "stealth_pngcomp")
RGB_KINDS = ("stealth_rgbinfo", "stealth_rgbcomp")
SIGNATURE_BITS = 15 * 8
LENGTH_BITS = 32
MAX_PAYLOAD_BYTES = 16 << 20

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa"})


@dataclass
class StealthPayload:
    """A decoded LSB payload: ``kind`` is the signature found, ``text`` the (decompressed) text."""

    kind: str
    compressed: bool
    text: str


def read_stealth(img: Image.Image) -> StealthPayload | None:
    """The stealth payload, or None when neither signature is present.

    A matching signature is itself a generator trace (120 bits do not match by chance), so a
    length that the image cannot hold or a payload that does not decompress raises
    ProvenanceError instead of passing silently; it is raised only after a signature matched.
    Pixel decoding errors (OSError from a truncated file) are left to the caller.
    """
    width, height = img.size
    if width <= 0 or height <= 0:
        return None
    has_alpha = img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info)
    reader = _ColumnReader(img, has_alpha)
    for channels, kinds in ((3, RGB_KINDS), (1, ALPHA_KINDS)):
        if channels == 1 and not has_alpha:
            continue
        try:
            header = reader.bits(channels, SIGNATURE_BITS + LENGTH_BITS)
        except ValueError:  # a mode Pillow cannot convert to RGB(A): no writer produces it
            return None
        if header is None:
            continue
        signature = np.packbits(header[:SIGNATURE_BITS]).tobytes()
        kind = next((k for k in kinds if signature == k.encode("ascii")), None)
        if kind is None:
            continue
        length = int.from_bytes(np.packbits(header[SIGNATURE_BITS:]).tobytes(), "big")
        return _payload(reader, channels, kind, length)
    return None


def _payload(reader: _ColumnReader, channels: int, kind: str, length: int) -> StealthPayload:
    compressed = kind.endswith("comp")
    capacity = reader.pixels * channels - SIGNATURE_BITS - LENGTH_BITS
    if length > MAX_PAYLOAD_BYTES * 8:
        raise ProvenanceError(
            f"{kind}: payload of {length} bits is over the {MAX_PAYLOAD_BYTES}-byte limit"
        )
    if length > capacity:
        raise ProvenanceError(f"{kind}: payload of {length} bits, the image holds {capacity}")
    if length == 0:
        return StealthPayload(kind=kind, compressed=compressed, text="")
    stream = reader.bits(channels, SIGNATURE_BITS + LENGTH_BITS + length)
    if stream is None:
        raise ProvenanceError(f"{kind}: image too small for its payload")
    data = np.packbits(stream[SIGNATURE_BITS + LENGTH_BITS :]).tobytes()
    raw = _gunzip(data, kind) if compressed else data[:MAX_TEXT_BYTES]
    return StealthPayload(kind=kind, compressed=compressed, text=raw.decode("utf-8", "replace"))


def _gunzip(data: bytes, kind: str) -> bytes:
    """gzip with a bound on the output: a small payload must not inflate into gigabytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_TEXT_BYTES)
    except zlib.error as exc:
        raise ProvenanceError(f"{kind}: payload is not valid gzip") from exc
    if not inflater.eof and not inflater.unconsumed_tail:
        raise ProvenanceError(f"{kind}: gzip payload is truncated")
    return out


class _ColumnReader:
    """LSB bit streams from the first columns of an image, in the writers' column-major order."""

    def __init__(self, img: Image.Image, has_alpha: bool) -> None:
        self.img = img
        self.has_alpha = has_alpha
        self.pixels = img.width * img.height
        self._columns: NDArray[np.uint8] | None = None

    def bits(self, channels: int, count: int) -> NDArray[np.uint8] | None:
        """The first ``count`` bits of the 1-channel (alpha) or 3-channel (RGB) stream."""
        needed = math.ceil(count / channels)
        if needed > self.pixels:
            return None
        lsb = self._lsb(math.ceil(needed / self.img.height))
        plane = lsb[..., 3] if channels == 1 else lsb[..., :3]
        return np.ascontiguousarray(plane).reshape(-1)[:count]

    def _lsb(self, columns: int) -> NDArray[np.uint8]:
        if self._columns is None or self._columns.shape[0] < columns:
            crop = self.img.crop((0, 0, columns, self.img.height))
            crop = crop.convert("RGBA" if self.has_alpha else "RGB")
            pixels = np.asarray(crop, dtype=np.uint8)
            if pixels.shape[-1] == 3:
                pixels = np.concatenate([pixels, np.zeros_like(pixels[..., :1])], axis=-1)
            self._columns = np.transpose(pixels, (1, 0, 2)) & np.uint8(1)
        return self._columns[:columns]
