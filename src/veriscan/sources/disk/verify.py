"""Image verification: hash the whole media and compare with what was stored at acquisition.

An E01 carries the MD5 (and often SHA-1) the acquiring tool computed; recomputing them over the
media read back through libewf proves the copy examined is the copy acquired. Raw images carry
no hash, so the examiner may pass the values from the acquisition notes. MD5, SHA-1 and SHA-256
are computed in one read; the SHA-256 becomes the case's acquisition hash.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from veriscan.sources.disk.media import MediaError, open_media

ALGORITHMS: Final = ("md5", "sha1", "sha256")
CHUNK: Final = 8 << 20

Progress = Callable[[int, int], None]


@dataclass
class Verification:
    image: str
    format: str = "unknown"
    media_size: int = 0
    segments: list[str] = field(default_factory=list)
    stored: dict[str, str] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)
    computed: dict[str, str] = field(default_factory=dict)
    result: str = "unreadable"
    mismatched: list[str] = field(default_factory=list)
    error: str | None = None
    checked_at: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result in ("verified", "computed")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.result == "verified":
            names = ", ".join(sorted({*self.stored, *self.expected}))
            return f"verified: computed {names} equal the stored values"
        if self.result == "mismatch":
            return f"MISMATCH: {', '.join(self.mismatched)} differ from the stored values"
        if self.result == "computed":
            return "computed: the image stores no hash to compare with (raw image)"
        return f"unreadable: {self.error}"


def _hash_all(hashers: list[Any], data: bytes, pool: ThreadPoolExecutor) -> None:
    """hashlib releases the GIL on large buffers, so the three digests run side by side."""
    for fut in [pool.submit(h.update, data) for h in hashers]:
        fut.result()


def verify_image(
    path: Path, *, expected: dict[str, str] | None = None, progress: Progress | None = None
) -> Verification:
    started = time.monotonic()
    result = Verification(
        image=path.name, checked_at=datetime.now(UTC).isoformat(timespec="seconds")
    )
    result.expected = {k.lower(): v.lower() for k, v in (expected or {}).items()}
    try:
        media = open_media(path)
    except MediaError as exc:
        result.error = str(exc)
        return result
    with media:
        info = media.info
        result.format, result.media_size = info.format, info.size
        result.segments, result.stored = list(info.segments), dict(info.stored_hashes)
        hashers = [hashlib.new(name) for name in ALGORITHMS]
        offset = 0
        with ThreadPoolExecutor(len(hashers)) as pool:
            try:
                while offset < info.size:
                    data = media.read(offset, min(CHUNK, info.size - offset))
                    if not data:
                        raise MediaError(f"image ends at byte {offset} of {info.size}")
                    _hash_all(hashers, data, pool)
                    offset += len(data)
                    if progress is not None:
                        progress(offset, info.size)
            except MediaError as exc:
                result.error = str(exc)
                result.seconds = time.monotonic() - started
                return result
    result.computed = {name: h.hexdigest() for name, h in zip(ALGORITHMS, hashers, strict=True)}
    reference = {**result.stored, **result.expected}
    result.mismatched = sorted(k for k, v in reference.items() if result.computed.get(k) != v)
    if result.mismatched:
        result.result = "mismatch"
    else:
        result.result = "verified" if reference else "computed"
    result.seconds = time.monotonic() - started
    return result
