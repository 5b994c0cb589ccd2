"""File type by content (magic bytes), never by name; the name is only compared to flag mismatches.

Renaming a picture to ``.dll`` is an old trick to hide it from a casual look; the mismatch flag
makes it visible.

veriscan's own table decides first: it covers the formats the analyzers act on (images, camera
RAW, video, archives, models) and its answers are part of the case record, so they must not move
when a library updates. What it does not know goes to puremagic's signature database (a pure
Python, versioned copy of the usual magic tables), so PSD, JPEG XL and a few thousand other
formats get a real type instead of ``application/octet-stream``.
"""

from __future__ import annotations

import puremagic

from veriscan.analyzers.base import StreamingAnalyzer, StreamState
from veriscan.domain import Attribute, Fact

HEAD_BYTES = 4096
OCTET = "application/octet-stream"
MIN_CONFIDENCE = 0.4
"""puremagic's confidence grows with the length of the matched signature; below 0.4 (three bytes
or fewer) a match in arbitrary binary data is too likely to be chance."""

_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"IIRO", "image/x-olympus-orf"),
    (0, b"IIRS", "image/x-olympus-orf"),
    (0, b"MMOR", "image/x-olympus-orf"),
    (0, b"IIU\x00", "image/x-panasonic-rw2"),
    (0, b"FUJIFILMCCD-RAW", "image/x-fuji-raf"),
    (0, b"FOVb", "image/x-sigma-x3f"),
    (0, b"II\x1a\x00\x00\x00HEAPCCDR", "image/x-canon-crw"),
    (0, b"\x00MRM", "image/x-minolta-mrw"),
    (0, b"8BPS", "image/vnd.adobe.photoshop"),
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", "image/jxl"),
    (0, b"\xff\x0a", "image/jxl"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"PK\x05\x06", "application/zip"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"BZh", "application/x-bzip2"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (257, b"ustar", "application/x-tar"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"\x1aE\xdf\xa3", "video/x-matroska"),
    (0, b"OggS", "application/ogg"),
    (0, b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (0, b"MZ", "application/x-msdownload"),
    (0, b"\x7fELF", "application/x-elf"),
)

_FTYP_BRANDS: dict[bytes, str] = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"hevc": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"qt  ": "video/quicktime",
    b"crx ": "image/x-canon-cr3",
    b"jxl ": "image/jxl",
    b"M4V ": "video/mp4",
    b"M4A ": "audio/mp4",
}

EXTENSIONS: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({"jpg", "jpeg", "jpe", "jfif"}),
    "image/png": frozenset({"png"}),
    "image/gif": frozenset({"gif"}),
    "image/bmp": frozenset({"bmp", "dib"}),
    "image/tiff": frozenset(
        {"tif", "tiff", "dng", "nef", "nrw", "cr2", "arw", "srf", "sr2", "pef", "srw", "iiq"}
        | {"3fr", "erf", "mef", "mos", "kdc", "dcr"}
    ),
    "image/x-canon-cr3": frozenset({"cr3"}),
    "image/x-canon-crw": frozenset({"crw"}),
    "image/x-fuji-raf": frozenset({"raf"}),
    "image/x-sigma-x3f": frozenset({"x3f"}),
    "image/x-olympus-orf": frozenset({"orf", "ori"}),
    "image/x-panasonic-rw2": frozenset({"rw2", "rwl", "raw"}),
    "image/x-minolta-mrw": frozenset({"mrw"}),
    "image/vnd.adobe.photoshop": frozenset({"psd", "psb"}),
    "image/jxl": frozenset({"jxl"}),
    "image/webp": frozenset({"webp"}),
    "image/heic": frozenset({"heic", "heif", "hif"}),
    "image/heif": frozenset({"heif", "heic", "hif"}),
    "image/avif": frozenset({"avif"}),
    "application/zip": frozenset({"zip", "docx", "xlsx", "pptx", "jar", "apk", "odt", "cbz"}),
    "application/x-7z-compressed": frozenset({"7z"}),
    "application/gzip": frozenset({"gz", "tgz"}),
    "application/x-bzip2": frozenset({"bz2", "tbz2", "tbz"}),
    "application/x-xz": frozenset({"xz", "txz"}),
    "application/x-tar": frozenset({"tar"}),
    "application/pdf": frozenset({"pdf"}),
    "video/mp4": frozenset({"mp4", "m4v", "mov"}),
    "video/quicktime": frozenset({"mov", "qt", "mp4"}),
    "video/x-matroska": frozenset({"mkv", "webm"}),
    "video/x-msvideo": frozenset({"avi"}),
    "application/x-msdownload": frozenset({"exe", "dll", "sys"}),
}


def sniff_mime(head: bytes) -> str:
    """MIME type from the first bytes; text is recognised by being valid UTF-8 without NULs."""
    for offset, magic, mime in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return mime
    if head[:4] == b"RIFF" and len(head) >= 12:
        return {b"WEBP": "image/webp", b"AVI ": "video/x-msvideo", b"WAVE": "audio/wav"}.get(
            head[8:12], OCTET
        )
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if not head:
        return "application/x-empty"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3:
                return "text/plain"
    return signature_database(head)


def signature_database(head: bytes) -> str:
    """puremagic's best match with a MIME type, or octet-stream; it never raises on odd bytes."""
    try:
        matches = puremagic.magic_string(head)
    except Exception:  # PureError for no match; anything else is a gap in the library
        return OCTET
    for match in matches:
        mime = (match.mime_type or "").strip().lower()
        if match.confidence >= MIN_CONFIDENCE and "/" in mime and mime != OCTET:
            return mime
    return OCTET


def extension_mismatch(name: str, mime: str) -> bool:
    """True when the name's extension claims a different known type than the content is."""
    if "." not in name:
        return False
    ext = name.rsplit(".", 1)[1].lower()
    expected = EXTENSIONS.get(mime)
    if expected is not None:
        return ext not in expected
    return any(ext in exts for exts in EXTENSIONS.values())


class _TypeState(StreamState):
    def __init__(self) -> None:
        self._head = b""

    def update(self, chunk: bytes) -> None:
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]

    def finish(self) -> list[Fact]:
        mime = sniff_mime(self._head)
        return [Attribute("mime", mime)]


class FileTypeAnalyzer(StreamingAnalyzer):
    id = "filetype"
    version = "1"

    def begin(self, name: str) -> StreamState:
        return _TypeState()
