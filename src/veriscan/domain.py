"""The nouns every part of veriscan shares: the domain model (AI model files are another matter,
handled in ``analyzers/models/``).

Sources yield :class:`Item`s addressed by :class:`Locator`s; analyzers turn bytes into typed facts
(:class:`Digest`, :class:`Attribute`, :class:`Artifact`, :class:`Problem`, :class:`Verdict`); the
pipeline folds those facts into :class:`ContentRecord` (one per unique SHA-256) and
:class:`LocationRecord` (one per place the content was seen). Everything here is a plain, picklable
dataclass so work units can cross process (and later machine) boundaries unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from veriscan.names import normalise_locator_text

JSON = Any
SEP = "!/"


@dataclass(frozen=True, order=True)
class Locator:
    """Where a file sits inside one evidence item.

    The first segment is a path relative to the evidence root; each further segment is a path inside
    the archive named by the previous one, so ``photos.zip!/dir/inner.zip!/a.jpg`` reads naturally.
    Segments hold names escaped by :func:`veriscan.names.escape_path`, so a locator is valid UTF-8
    text that splits back into the same segments whatever bytes the names held.
    """

    segments: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.segments or any(s == "" for s in self.segments):
            raise ValueError(f"locator needs non-empty segments, got {self.segments!r}")

    @classmethod
    def parse(cls, text: str) -> Locator:
        """Also accepts a raw name typed in a shell (undecodable bytes, controls) and escapes it."""
        return cls(tuple(normalise_locator_text(text).split(SEP)))

    def child(self, member: str) -> Locator:
        return Locator((*self.segments, member))

    @property
    def depth(self) -> int:
        """Archive nesting depth: 0 for a file on the evidence itself."""
        return len(self.segments) - 1

    @property
    def name(self) -> str:
        return self.segments[-1].rsplit("/", 1)[-1]

    @property
    def parent(self) -> Locator | None:
        return Locator(self.segments[:-1]) if len(self.segments) > 1 else None

    def __str__(self) -> str:
        return SEP.join(self.segments)


class ItemKind(StrEnum):
    FILE = "file"
    SYMLINK = "symlink"
    SPECIAL = "special"


class ProblemCode(StrEnum):
    """Every problem code veriscan stores, in one place; each is documented in the README's
    problem-code table (a test holds the two together). Values are the stored strings: renaming
    one would break filters and exports, so members are only ever added."""

    ANALYZER_CRASH = "analyzer-crash"
    ANALYZER_ERROR = "analyzer-error"
    ARCHIVE_CORRUPT_DATA = "archive-corrupt-data"
    ARCHIVE_CRC = "archive-crc"
    ARCHIVE_DAMAGED_HEADER = "archive-damaged-header"
    ARCHIVE_DATA_AFTER_END = "archive-data-after-end"
    ARCHIVE_ERROR = "archive-error"
    ARCHIVE_NO_END_MARKER = "archive-no-end-marker"
    ARCHIVE_SHIFTED_MEMBER = "archive-shifted-member"
    ARCHIVE_TRAILING_DATA = "archive-trailing-data"
    ARCHIVE_TRUNCATED = "archive-truncated"
    ARCHIVE_TRUNCATED_LISTING = "archive-truncated-listing"
    ARCHIVE_UNSUPPORTED = "archive-unsupported"
    BOMB_DEPTH = "bomb-depth"
    BOMB_ENTRIES = "bomb-entries"
    BOMB_EXPANDED_BYTES = "bomb-expanded-bytes"
    BOMB_RATIO = "bomb-ratio"
    C2PA_ERROR = "c2pa-error"
    CARVE_ERROR = "carve-error"
    CLASSIFIER_ERROR = "classifier-error"
    CORRUPT_IMAGE = "corrupt-image"
    DELETED_NO_META = "deleted-no-meta"
    DELETED_REALLOCATED = "deleted-reallocated"
    DELETED_UNRECOVERABLE = "deleted-unrecoverable"
    DETECTOR_ERROR = "detector-error"
    DETECTOR_NO_MODEL = "detector-no-model"
    DETECTOR_PIXELS_MISSING = "detector-pixels-missing"
    DETECTOR_TOO_LARGE = "detector-too-large"
    DETECTOR_UNREADABLE = "detector-unreadable"
    DUPLICATE_NAME = "duplicate-name"
    EMPTY_NAME = "empty-name"
    ENCRYPTED = "encrypted"
    ERROR = "error"
    EXIF_MALFORMED = "exif-malformed"
    GENERATOR_METADATA_ERROR = "generator-metadata-error"
    HOSTILE_PATH = "hostile-path"
    IMAGE_MALFORMED = "image-malformed"
    IMAGE_TOO_LARGE = "image-too-large"
    IMAGE_TRUNCATED = "image-truncated"
    LOCATOR_SEPARATOR = "locator-separator"
    METADATA_DAMAGED = "metadata-damaged"
    MODEL_CODE_EXECUTION = "model-code-execution"
    MODEL_UNREADABLE = "model-unreadable"
    NAME_MISMATCH = "name-mismatch"
    NO_VIDEO_STREAM = "no-video-stream"
    NO_VOLUMES = "no-volumes"
    PDQ_ERROR = "pdq-error"
    PROVENANCE_UNREADABLE = "provenance-unreadable"
    RAW_MALFORMED = "raw-malformed"
    RAW_NO_PREVIEW = "raw-no-preview"
    READ_ERROR = "read-error"
    SPECIAL = "special"
    SPECIAL_FILE = "special-file"
    STEALTH_ERROR = "stealth-error"
    TOO_DEEP = "too-deep"
    TOO_LARGE = "too-large"
    TRUNCATED = "truncated"
    TRUNCATED_IMAGE = "truncated-image"
    UNIDENTIFIED_IMAGE = "unidentified-image"
    UNREADABLE = "unreadable"
    UNSUPPORTED_COMPRESSION = "unsupported-compression"
    UNSUPPORTED_FS = "unsupported-fs"
    VERDICT_NOT_UPDATED = "verdict-not-updated"
    VIDEO_DECODE_ERROR = "video-decode-error"
    VIDEO_TOO_LARGE = "video-too-large"
    VPDQ_FRAME_LIMIT = "vpdq-frame-limit"
    WATERMARK_ERROR = "watermark-error"
    XMP_ERROR = "xmp-error"


@dataclass(frozen=True)
class Problem:
    """Something that went wrong or looked hostile; recorded, never raised past the item."""

    analyzer: str
    message: str
    code: ProblemCode = ProblemCode.ERROR


@dataclass(frozen=True)
class Item:
    locator: Locator
    size: int | None
    mtime: float | None
    kind: ItemKind = ItemKind.FILE
    link_target: str | None = None
    encrypted: bool = False
    problems: tuple[Problem, ...] = ()
    deleted: bool = False
    carved: bool = False
    fs_times: tuple[tuple[str, float], ...] = ()
    address: tuple[int, ...] = ()
    """Where a source finds the bytes again without a path lookup (a disk image's inode, offset)."""


@dataclass(frozen=True)
class Digest:
    algorithm: str
    value: str


@dataclass(frozen=True)
class Attribute:
    name: str
    value: JSON


@dataclass(frozen=True)
class Artifact:
    """Derived bytes (a thumbnail) that belong in the case folder, never in the database."""

    name: str
    data: bytes
    suffix: str


@dataclass(frozen=True)
class Verdict:
    """A conclusion with its reasons; absence of evidence is stated, never turned into 'real'."""

    label: str
    strength: str
    explanation: str


Fact = Digest | Attribute | Artifact | Problem | Verdict


@dataclass
class Finding:
    """All facts one analyzer produced for one content."""

    analyzer: str
    version: str
    facts: list[Fact] = field(default_factory=list)


@dataclass
class ContentRecord:
    """What is known about one unique content, however many places it was found in."""

    sha256: str
    md5: str
    sha1: str
    size: int
    mime: str
    width: int | None = None
    height: int | None = None
    exif: dict[str, JSON] | None = None
    pdq_hash: str | None = None
    pdq_quality: int | None = None
    pdq_mode: str | None = None
    ai: dict[str, JSON] | None = None
    model: dict[str, JSON] | None = None
    detector: dict[str, JSON] | None = None
    classifiers: dict[str, JSON] | None = None
    """{name: {"model_sha256", "scores": {label: p}, "flagged"}} from the supplied classifiers."""
    findings: dict[str, dict[str, JSON]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)


@dataclass
class LocationRecord:
    """One place a content was seen; ``sha256`` is None when it could not be read at all."""

    locator: Locator
    size: int | None
    mtime: float | None
    kind: ItemKind
    sha256: str | None = None
    link_target: str | None = None
    extension_mismatch: bool = False
    problems: list[Problem] = field(default_factory=list)
    deleted: bool = False
    carved: bool = False
    fs_times: dict[str, float] | None = None


@dataclass
class UnitResult:
    unit_id: str
    locations: list[LocationRecord] = field(default_factory=list)
    contents: list[ContentRecord] = field(default_factory=list)
    bytes_read: int = 0
    files: int = 0
    file_bytes: int = 0


@dataclass(frozen=True)
class Match:
    """A content found on a hash list: which list and entry, by which hash, how close."""

    sha256: str
    list_name: str
    kind: str
    entry: int
    distance: int = 0
    category: str | None = None
    series: str | None = None
    labels: tuple[str, ...] = ()
    known_good: bool = False


@dataclass
class RunInfo:
    """What a run needs to be reproduced: versions, analyzer set, settings."""

    command: str
    veriscan_version: str
    analyzers: dict[str, str]
    settings: dict[str, JSON]
    counts: dict[str, int] = field(default_factory=dict)
