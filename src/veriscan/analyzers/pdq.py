"""PDQ perceptual hash, bit-compatible with python-threatexchange.

Hash lists shared between platforms (NCMEC, Tech Coalition, ThreatExchange) are matched by Hamming
distance, so the hash has to come out the way those lists were made: the ``pdqhash`` C++ code run
on Pillow's ``convert("RGB")`` pixels, bits written most significant first. ``exact`` mode does
exactly that on the full image (after EXIF orientation, which only matters for rotated photos);
``fast`` mode hashes a reduced-scale JPEG decode that stays within a few bits of it.
"""

from __future__ import annotations

import numpy as np
import pdqhash
from numpy.typing import NDArray
from PIL import Image

from veriscan.analyzers.base import Analyzer, FileContext
from veriscan.analyzers.decode import decoded, wants_image
from veriscan.analyzers.failures import INTERNAL, log_exception
from veriscan.domain import Attribute, Fact, Problem, ProblemCode

PDQ_BITS = 256


class PdqAnalyzer(Analyzer):
    """The PDQ hash and quality score of each image, in the mode the settings choose."""

    id = "pdq"
    version = "1"

    def wants(self, mime: str) -> bool:
        return wants_image(mime)

    def analyze(self, ctx: FileContext) -> list[Fact]:
        mode = self.settings.pdq
        result = decoded(ctx, mode)
        if result.failure is not None:
            return [Problem(self.id, result.failure.message, code=result.failure.code)]
        if result.rgb is None:
            return [Problem(self.id, "no pixels to hash", code=ProblemCode.CORRUPT_IMAGE)]
        try:
            hash_hex, quality = pdq_hash(result.rgb)
        except Exception as exc:  # the native hasher failing must cost this file, not the run
            log_exception(self.id, ctx.name, exc)
            return [
                Problem(self.id, f"PDQ hashing failed ({INTERNAL})", code=ProblemCode.PDQ_ERROR)
            ]
        facts: list[Fact] = [
            Attribute("hash", hash_hex),
            Attribute("quality", quality),
            Attribute("mode", mode),
        ]
        if result.header is not None and result.header.source is not None:
            facts.append(Attribute("source", result.header.source))
        return facts


def pdq_hash(rgb: Image.Image) -> tuple[str, int]:
    """(64 lowercase hex digits, quality 0-100) for an RGB image."""
    if rgb.mode != "RGB":
        raise ValueError(f"PDQ needs an RGB image, got mode {rgb.mode}")
    vector, quality = pdqhash.compute(np.asarray(rgb))
    return bits_to_hex(np.asarray(vector)), int(quality)


def bits_to_hex(bits: NDArray[np.integer] | NDArray[np.bool_]) -> str:
    """Element 0 is the most significant bit, as in python-threatexchange's ``int(bin_str, 2)``."""
    if bits.shape != (PDQ_BITS,):
        raise ValueError(f"expected {PDQ_BITS} hash bits, got shape {bits.shape}")
    return np.packbits(bits.astype(np.uint8) != 0).tobytes().hex()
