"""The provenance contracts shared by every generator parser and signal reader.

Each generator family has its own parser module; all of them read the same :class:`ImageMetadata`
(gathered once per file, with bounded sizes) and return the same :class:`GenerationParams`, so the
verdict, the store and the reports never need to know which tool wrote a file. Signals that are not
generator metadata (C2PA, IPTC, watermarks, file names) are reported as :class:`Evidence`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol

from PIL import Image

JSON = Any

MAX_TEXT_BYTES = 8 << 20
MAX_JSON_DEPTH = 64
MAX_GRAPH_NODES = 5000


class ProvenanceError(Exception):
    """Metadata that claims a known format but cannot be read (truncated, hostile, wrong encoding).

    Parsers raise it; the analyzer records it as a Problem and goes on with the other signals.
    """


@dataclass
class Lora:
    name: str
    weight: float | None = None
    hash: str | None = None


@dataclass
class GenerationParams:
    """One generator's account of how an image was made, normalised across tools."""

    generator: str
    source: str
    raw: str
    version: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    steps: int | None = None
    sampler: str | None = None
    scheduler: str | None = None
    cfg: float | None = None
    width: int | None = None
    height: int | None = None
    model: str | None = None
    model_hash: str | None = None
    model_hash_scheme: str | None = None
    vae: str | None = None
    loras: list[Lora] = field(default_factory=list)
    embeddings: list[str] = field(default_factory=list)
    controlnets: list[str] = field(default_factory=list)
    extra: dict[str, JSON] = field(default_factory=dict)
    workflow: JSON | None = None

    def has_generation_parameters(self) -> bool:
        """Whether this is real generation metadata (conclusive), not just a tool's name."""
        return any(
            v is not None
            for v in (self.prompt, self.seed, self.steps, self.sampler, self.cfg, self.model)
        )

    def to_json(self) -> dict[str, JSON]:
        return asdict(self)


@dataclass
class Evidence:
    """One signal found (or checked and not found) in a file, worded for an examiner's report.

    ``strength`` is one of conclusive, strong, indicative, none; ``signal`` names the check
    (e.g. ``png:parameters``, ``c2pa``, ``iptc:digitalsourcetype``, ``sd-watermark``,
    ``filename``, ``software-tag``).
    """

    signal: str
    strength: str
    summary: str
    generator: str | None = None
    details: dict[str, JSON] = field(default_factory=dict)


@dataclass
class ImageMetadata:
    """Everything provenance parsers look at, read once from the file with bounded sizes.

    ``text``: PNG tEXt/zTXt/iTXt chunks by keyword (decompressed), and WebP/other text fields.
    ``exif``: IFD0 + Exif IFD tags by numeric id, values as Pillow gives them (bytes kept as bytes).
    ``user_comment``: EXIF UserComment decoded (charset prefix handled, UTF-16 either order).
    ``xmp``: the XMP packet as text. ``iptc``: IPTC-IIM datasets as {(record, dataset): [bytes]}.
    ``pixels``: loads the full image (for LSB payloads) only if a reader asks for it.
    """

    format: str
    width: int
    height: int
    mode: str
    name: str
    text: dict[str, str] = field(default_factory=dict)
    exif: dict[int, JSON] = field(default_factory=dict)
    user_comment: str | None = None
    xmp: str | None = None
    iptc: dict[tuple[int, int], list[bytes]] = field(default_factory=dict)
    data: bytes = b""
    pixels: Callable[[], Image.Image] | None = None
    problems: list[str] = field(default_factory=list)
    """Damage found while reading (a truncated chunk, unreadable EXIF): reported, not fatal."""


class GeneratorParser(Protocol):
    """A generator family's reader: returns what it found, [] when the file is not its format."""

    family: ClassVar[str]

    def parse(self, meta: ImageMetadata) -> list[GenerationParams]: ...


def load_json(text: str, what: str) -> JSON:
    """json.loads with the size and nesting bounds every parser must respect."""
    if len(text) > MAX_TEXT_BYTES:
        raise ProvenanceError(f"{what}: {len(text)} characters, over the {MAX_TEXT_BYTES} limit")
    depth = 0
    deepest = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                raise ProvenanceError(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH}")
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ProvenanceError(f"{what}: not valid JSON{where}") from exc
