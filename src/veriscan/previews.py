"""Blurred previews of a case thumbnail: the one way veriscan shows pixels by default.

The HTML report and the review app both render them here, so "blurred and greyscale unless
revealed" means the same thing in both places.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageFilter


def blurred_jpeg(
    path: Path, blur: int, *, greyscale: bool = True, size: int | None = None, quality: int = 70
) -> bytes:
    """JPEG bytes of the thumbnail at ``path``, shrunk to ``size`` and blurred; raises OSError
    or ValueError for a missing or unreadable file."""
    with Image.open(path) as img:
        out = img.convert("L" if greyscale else "RGB")
    if size is not None:
        out.thumbnail((size, size))
    if blur > 0:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=quality)
    return buf.getvalue()
