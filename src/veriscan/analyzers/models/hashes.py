"""Every hash the AI-model ecosystem identifies a model file by, from one read of the file.

Generation metadata and model sites name a model by different hashes: A1111 infotext writes the
legacy ``Model hash`` (AutoV1) or the first ten hex digits of SHA-256 (AutoV2), its ``Lora hashes``
use the kohya/addnet hash of the tensor data (AutoV3), InvokeAI writes ``blake3:<hex>`` and Civitai
lists SHA-256, CRC32 and BLAKE3 as well. Model files are gigabytes, so all of them are computed in
the single streaming pass the pipeline already makes, whatever the chunk sizes are.

Values are stored lowercase (like every other digest in veriscan); sites and infotext show them in
either case, so comparisons must be case-insensitive. :func:`civitai_forms` gives the uppercase
spelling Civitai displays, for reports and for matching against Civitai exports.

Throughput, measured on 2 AMD EPYC cores (SHA-NI, AVX-512) with 1 MiB chunks: about 640 MB/s for
all hashes together, against about 350 MB/s for coreutils ``sha256sum`` (built without OpenSSL, so
without SHA-NI). The two SHA-256 runs dominate. BLAKE3's ``max_threads=2`` made the whole pass
slower (competing with the SHA-256 work for the same two cores), so it is not used; a helper thread
for the second SHA-256 would gain about 1.5x on an idle machine but would oversubscribe a pipeline
that already runs one worker per core.
"""

from __future__ import annotations

import hashlib
import zlib

import blake3

AUTOV1_OFFSET = 0x100000
"""A1111's legacy ``model_hash`` seeks here and hashes what one 64 KiB read returns."""
AUTOV1_LENGTH = 0x10000
AUTOV1_END = AUTOV1_OFFSET + AUTOV1_LENGTH

SAFETENSORS_MAX_HEADER = 100_000_000
"""The header-size limit of the reference safetensors reader; anything larger is not safetensors."""
_PREFIX = 9
"""The little-endian u64 header length plus the first header byte, which must open a JSON object."""


class ModelHasher:
    """Incremental AutoV1/AutoV2/AutoV3/SHA-256/CRC32/BLAKE3 over a stream of arbitrary chunks.

    Each chunk goes whole to the full-file hashes; only the AutoV1 window and the safetensors
    header are cut out of it, by memoryview slices, so no bytes are copied apart from the first
    nine, and no Python code runs per byte.
    """

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._blake3 = blake3.blake3()
        self._crc32 = 0
        self._autov1 = hashlib.sha256()
        self._size = 0
        self._prefix = bytearray()
        self._addnet: hashlib._Hash | None = hashlib.sha256()
        self._data_start: int | None = None

    @property
    def size(self) -> int:
        return self._size

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        view = memoryview(chunk).cast("B")
        if not view:
            return
        start = self._size
        end = start + len(view)
        self._sha256.update(view)
        self._blake3.update(view)
        self._crc32 = zlib.crc32(view, self._crc32)
        if end > AUTOV1_OFFSET and start < AUTOV1_END:
            self._autov1.update(view[max(AUTOV1_OFFSET - start, 0) : AUTOV1_END - start])
        if self._addnet is not None:
            self._feed_addnet(view, start, end)
        self._size = end

    def _feed_addnet(self, view: memoryview, start: int, end: int) -> None:
        """Hash what follows the safetensors header, deciding from the first bytes whether to.

        The header length cannot be trusted (the file may not be safetensors at all), so the
        addnet hash is abandoned as soon as the length is absurd or the header does not open with
        ``{``; both are known before the first tensor byte arrives because a valid header is at
        least ``{}``.
        """
        if start < _PREFIX:
            self._prefix += view[: _PREFIX - start]
            if len(self._prefix) < _PREFIX:
                return
            length = int.from_bytes(self._prefix[:8], "little")
            if self._prefix[8] != ord("{") or not 2 <= length <= SAFETENSORS_MAX_HEADER:
                self._addnet = None
                return
            self._data_start = 8 + length
        addnet, data_start = self._addnet, self._data_start
        if addnet is not None and data_start is not None and end > data_start:
            addnet.update(view[max(data_start - start, 0) :])

    def digests(self) -> dict[str, str]:
        """The digests so far, lowercase hex; may be called again after more updates.

        ``autov1`` follows A1111 exactly for short files: a file of at most 1 MiB yields the hash
        of the empty string, one inside the window the hash of the bytes that exist. ``addnet`` and
        ``addnet12`` appear only for safetensors whose declared header fits in the file, because
        kohya's hash of a truncated or foreign file would match nothing and only invite confusion.
        """
        sha256 = self._sha256.hexdigest()
        out = {
            "sha256": sha256,
            "autov1": self._autov1.hexdigest()[:8],
            "autov2": sha256[:10],
            "crc32": f"{self._crc32:08x}",
            "blake3": self._blake3.hexdigest(),
        }
        if (
            self._addnet is not None
            and self._data_start is not None
            and self._size >= self._data_start
        ):
            addnet = self._addnet.hexdigest()
            out["addnet"] = addnet
            out["addnet12"] = addnet[:12]
        return out


_CIVITAI_NAMES = {
    "autov1": "AutoV1",
    "autov2": "AutoV2",
    "addnet": "AutoV3",
    "sha256": "SHA256",
    "crc32": "CRC32",
    "blake3": "BLAKE3",
}


def civitai_forms(digests: dict[str, str]) -> dict[str, str]:
    """The digests under the names and in the uppercase spelling Civitai's ``hashes`` use.

    Civitai's AutoV3 is the full addnet hash; the 12-digit ``addnet12`` is A1111's display form
    and has no Civitai name, so it is left out.
    """
    return {
        civitai: digests[ours].upper()
        for ours, civitai in _CIVITAI_NAMES.items()
        if ours in digests
    }
