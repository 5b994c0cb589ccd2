"""A benign demo hash list for `make demo`: what a list shared by another agency looks like.

It holds the MD5 of one demo photo, the SHA-256 of another and the PDQ hash of a resized,
re-encoded copy of a third (so the demo shows a perceptual match at a small distance), plus
entries that match nothing. No categories: the demo files are landscapes and shapes.
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

from PIL import Image

from veriscan.analyzers.pdq import pdq_hash

HEADER = "md5,sha256,pdq,series,labels\n"


def _edited_pdq(path: Path) -> str:
    with Image.open(path) as img:
        rgb = img.convert("RGB")
    smaller = rgb.resize((max(1, rgb.width * 3 // 4), max(1, rgb.height * 3 // 4)))
    buf = io.BytesIO()
    smaller.save(buf, "JPEG", quality=70)
    with Image.open(io.BytesIO(buf.getvalue())) as edited:
        return pdq_hash(edited.convert("RGB"))[0]


def write_demo_list(evidence: Path, out: Path, seed: int = 7) -> int:
    """Writes the list as CSV; returns its number of entries."""
    photos = sorted(evidence.rglob("*.JPG")) + sorted(evidence.rglob("*.jpg"))
    if len(photos) < 3:
        raise ValueError(f"{evidence} does not look like demo evidence (fewer than 3 photos)")
    rnd = random.Random(seed)
    rows = [
        f"{hashlib.md5(photos[0].read_bytes()).hexdigest()},,,demo-series-1,shared by unit A",
        f",{hashlib.sha256(photos[1].read_bytes()).hexdigest()},,demo-series-1,shared by unit A",
        f",,{_edited_pdq(photos[2])},demo-series-2,resized copy",
    ]
    rows += [f"{rnd.getrandbits(128):032x},,,,no match" for _ in range(5)]
    out.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return len(rows)
