"""Augmentations that take shortcut cues away from the detector, applied alike to both classes.

In most corpora real photos are camera JPEGs and generated images are PNGs, at other sizes and
sharpness. A detector trained on them as stored learns "no JPEG grid means AI". Every training
patch therefore passes through a fresh container (JPEG at a random quality, or lossless PNG),
sometimes a mild rescale and blur, and a random 8-aligned crop, whatever its class.

Memory and time stay bounded because each training image is decoded once and only a few
native-resolution crops (``CROPS_PER_IMAGE`` of ``CROP`` px) are kept; every patch drawn from
them is re-augmented and re-encoded on the fly, so epochs never see the same bytes twice. Only a
window a little larger than the patch is re-encoded, which keeps a JPEG round trip under a
millisecond.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
from PIL import Image, ImageFilter

from veriscan.analyzers.detect.patches import pad_to, to_array

CROPS_PER_IMAGE: Final = 8
CROP: Final = 256
_RESAMPLE: Final = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class AugmentConfig:
    jpeg_prob: float = 0.7
    """JPEG more often than PNG: most images met in casework have been through JPEG before."""
    jpeg_quality: tuple[int, int] = (60, 100)
    rescale_prob: float = 0.25
    rescale: tuple[float, float] = (0.8, 1.2)
    blur_prob: float = 0.1
    blur_sigma: tuple[float, float] = (0.2, 1.0)

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "crops_per_image": CROPS_PER_IMAGE, "crop": CROP, "align": 8}


def encode(pixels: np.ndarray, fmt: str, quality: int = 95) -> bytes:
    """Container bytes; JPEG without chroma subsampling tricks beyond Pillow's default 4:2:0."""
    buf = io.BytesIO()
    img = Image.fromarray(pixels)
    if fmt == "JPEG":
        img.save(buf, "JPEG", quality=int(quality))
    elif fmt == "PNG":
        img.save(buf, "PNG", compress_level=1)
    else:
        raise ValueError(f"unsupported container {fmt!r}")
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return to_array(data)


def reencode(pixels: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> bytes:
    """A fresh container for the pixels: JPEG at a random quality, or PNG."""
    if rng.random() < cfg.jpeg_prob:
        low, high = cfg.jpeg_quality
        return encode(pixels, "JPEG", int(rng.integers(low, high + 1)))
    return encode(pixels, "PNG")


def resize(pixels: np.ndarray, factor: float, resample: Image.Resampling) -> np.ndarray:
    h, w = pixels.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(pixels).resize(size, resample), dtype=np.uint8)


def random_crops(
    pixels: np.ndarray,
    rng: np.random.Generator,
    *,
    count: int = CROPS_PER_IMAGE,
    size: int = CROP,
) -> list[np.ndarray]:
    """Up to ``count`` native-resolution crops at 8-aligned positions (fewer for small images).

    An image no larger than ``size`` is kept whole, once. Alignment keeps an original JPEG's block
    grid in the same place in every crop, as in the inference grid.
    """
    h, w = pixels.shape[:2]
    ch, cw = min(h, size), min(w, size)
    ny, nx = (h - ch) // 8 + 1, (w - cw) // 8 + 1
    positions = ny * nx
    take = min(count, positions)
    picks = rng.choice(positions, size=take, replace=False) if positions > take else range(take)
    crops = []
    for k in picks:
        y, x = int(k) // nx * 8, int(k) % nx * 8
        crops.append(np.ascontiguousarray(pixels[y : y + ch, x : x + cw]))
    return crops


def _aligned(rng: np.random.Generator, extent: int, window: int) -> int:
    return int(rng.integers(0, (extent - window) // 8 + 1)) * 8 if extent > window else 0


def augment_patch(
    crop: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, patch: int
) -> np.ndarray:
    """One training patch (patch, patch, 3) uint8 from a stored crop.

    The order follows a picture's life: resampling and softening first, the container last.
    """
    factor = float(rng.uniform(*cfg.rescale)) if rng.random() < cfg.rescale_prob else 1.0
    want = math.ceil((patch + 16) / factor / 8.0) * 8
    h, w = crop.shape[:2]
    wh, ww = min(h, want), min(w, want)
    y, x = _aligned(rng, h, wh), _aligned(rng, w, ww)
    window = crop[y : y + wh, x : x + ww]
    if factor != 1.0:
        window = resize(window, factor, _RESAMPLE[int(rng.integers(len(_RESAMPLE)))])
    if rng.random() < cfg.blur_prob:
        radius = float(rng.uniform(*cfg.blur_sigma))
        blurred = Image.fromarray(window).filter(ImageFilter.GaussianBlur(radius))
        window = np.asarray(blurred, dtype=np.uint8)
    window = pad_to(decode(reencode(window, rng, cfg)), patch)
    h, w = window.shape[:2]
    y, x = _aligned(rng, h, patch), _aligned(rng, w, patch)
    return window[y : y + patch, x : x + patch]
