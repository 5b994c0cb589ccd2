"""Patches that wait for the detector's batch stage, as small files in the case folder.

On a cluster the CPU work units decode each image once, where its bytes are read, and leave the
detector's patches behind; a batch stage (Ray Data, on a GPU when there is one) then scores many
images per model run. The patches are kept as uint8 ``.npy`` files (196 KB for 16 patches of 64
pixels), never pickles, because a case folder's files must not be able to run code when read, and
they are evidence-derived pixels: they live in the private case folder and are deleted once scored.
"""

from __future__ import annotations

import io
from typing import Final

import numpy as np

ARTIFACT: Final = "detector-pixels"
"""The artifact name a unit gives the patches; the case writes them under this folder name."""
SUFFIX: Final = ".npy"
PENDING_KEY: Final = "detector:pending"
"""``FileContext.cache`` entry: the model id whose batch stage will score this image."""
MAX_FILE_BYTES: Final = 64 << 20


class PendingError(ValueError):
    """Waiting patches that are missing, unreadable or not what the model takes."""


def encode(crops: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, np.ascontiguousarray(crops, dtype=np.uint8), allow_pickle=False)
    return out.getvalue()


def decode(data: bytes, patch: int) -> np.ndarray:
    """The patches (N, 3, patch, patch) uint8, or PendingError for anything else."""
    if len(data) > MAX_FILE_BYTES:
        raise PendingError(f"{len(data)} bytes is more than any image's patches take")
    try:
        crops: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise PendingError("unreadable patches: not a patch array written by veriscan") from exc
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[0] < 1:
        raise PendingError(f"patches of shape {crops.shape} and type {crops.dtype}")
    if crops.shape[1:] != (3, patch, patch):
        raise PendingError(
            f"patches of {crops.shape[1:]} where the model takes (3, {patch}, {patch})"
        )
    return crops
