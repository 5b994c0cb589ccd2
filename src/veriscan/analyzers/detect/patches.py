"""Pixels for the detector, taken the same way at training and at inference.

Generators leave their traces in the finest pixel structure (up-sampling grids, spectral peaks);
resizing a whole image first would erase them. So images are decoded at full resolution and the
detector sees native-resolution patches: at inference a fixed, deterministic grid over the image,
in training random positions. Both go through :func:`to_array` and :func:`grid_patches`, which
have no PyTorch dependency, so inference and training cannot drift apart.
"""

from __future__ import annotations

import io
import warnings
from typing import Final, Literal

import numpy as np
from PIL import Image, ImageOps

from veriscan.analyzers.failures import decode_failure

PATCH: Final = 64
GRID_PATCHES: Final = 16
MAX_PIXELS: Final = 80_000_000


class PatchError(ValueError):
    """The image cannot be turned into patches (unreadable, empty, or beyond MAX_PIXELS)."""


class TooLargeError(PatchError):
    """Beyond MAX_PIXELS (or Pillow's own bomb limit): refused before any pixel is allocated.

    Its own class so an examiner's report can tell "too large to analyse" from "damaged".
    """


def to_array(data: bytes, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """RGB uint8 array (H, W, 3) at full resolution, upright, first frame only."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise TooLargeError(
                        f"{width}x{height} exceeds the detector's limit of {max_pixels} pixels"
                    )
                if width < 1 or height < 1:
                    raise PatchError("image has no pixels")
                upright = ImageOps.exif_transpose(img)
                rgb = upright.convert("RGB")
                return np.asarray(rgb, dtype=np.uint8)
    except PatchError:
        raise
    except Image.DecompressionBombError as exc:
        raise TooLargeError("not decoded: the declared image size is over the pixel limit") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise PatchError(
            f"cannot decode image: {decode_failure(exc, 'image', len(data))[1]}"
        ) from exc


def pad_to(pixels: np.ndarray, size: int) -> np.ndarray:
    """Reflect-pad an image smaller than a patch; interpolation would invent pixel structure."""
    h, w = pixels.shape[:2]
    if h >= size and w >= size:
        return pixels
    pad_h, pad_w = max(0, size - h), max(0, size - w)
    mode: Literal["reflect", "edge"] = (
        "reflect" if h > 1 and w > 1 and pad_h < h and pad_w < w else "edge"
    )
    padded: np.ndarray = np.pad(pixels, ((0, pad_h), (0, pad_w), (0, 0)), mode=mode)
    return padded


def grid_crops(pixels: np.ndarray, *, patch: int = PATCH, count: int = GRID_PATCHES) -> np.ndarray:
    """``count`` patches (N, 3, patch, patch) uint8 on an even grid, deterministic.

    Positions are aligned to multiples of 8 so the JPEG block grid falls the same way in every
    patch, as in training crops. Kept as bytes (a quarter of the floats' size) where patches wait
    for a batch stage.
    """
    pixels = pad_to(pixels, patch)
    h, w = pixels.shape[:2]
    side = int(np.ceil(np.sqrt(count)))
    ys = np.linspace(0, h - patch, side).astype(int) // 8 * 8
    xs = np.linspace(0, w - patch, side).astype(int) // 8 * 8
    coords = [(y, x) for y in ys for x in xs][:count]
    out = np.stack([pixels[y : y + patch, x : x + patch] for y, x in coords])
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2), dtype=np.uint8)


def to_float(crops: np.ndarray) -> np.ndarray:
    """The model's input: float32 in [0, 1]."""
    return crops.astype(np.float32) / np.float32(255.0)


def grid_patches(
    pixels: np.ndarray, *, patch: int = PATCH, count: int = GRID_PATCHES
) -> np.ndarray:
    """:func:`grid_crops` as the model's float input."""
    return to_float(grid_crops(pixels, patch=patch, count=count))
