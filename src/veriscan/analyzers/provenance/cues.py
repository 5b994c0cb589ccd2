"""Weak cues: generator names in Software fields, generator-style file names, typical sizes.

Each is easy to fake or to lose, and each also occurs innocently, so on its own none can be more
than ``indicative``; they matter when stronger evidence has been stripped.
"""

from __future__ import annotations

import functools
import re
import tomllib
from importlib.resources import files

from veriscan.analyzers.provenance.base import Evidence, ImageMetadata

SOFTWARE = 0x0131
MAKE = 0x010F
MODEL = 0x0110
ARTIST = 0x013B

_FILENAMES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("automatic1111", re.compile(r"^\d{5}-\d{4,12}(-.*)?\.(png|jpe?g|webp)$", re.I)),
    ("comfyui", re.compile(r"^ComfyUI_\d{5}_\.(png|jpe?g|webp)$", re.I)),
    ("invokeai", re.compile(r"^\d{6}\.\d{4,12}(\.\d+)?\.png$", re.I)),
    ("fooocus", re.compile(r"^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_\d{4}\.(png|jpe?g|webp)$", re.I)),
    (
        "midjourney",
        re.compile(
            r"^[\w.-]+_[\w-]+_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
            r"(_\d)?\.(png|webp)$",
            re.I,
        ),
    ),
)

SD_SIDES = frozenset(
    {512, 576, 640, 704, 768, 832, 896, 960, 1024, 1088, 1152, 1216, 1280, 1344, 1408, 1472, 1536}
)


@functools.cache
def software_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    text = files("veriscan.analyzers.provenance").joinpath("generators.toml").read_text("utf-8")
    table = tomllib.loads(text)
    return tuple(
        (entry["family"], re.compile(pattern, re.I))
        for entry in table["generator"]
        for pattern in entry["patterns"]
    )


def _camera(meta: ImageMetadata) -> str | None:
    """Camera make/model, ignoring ComfyUI's habit of storing JSON in those WebP tags."""
    parts = []
    for tag in (MAKE, MODEL):
        value = meta.exif.get(tag)
        if (
            isinstance(value, str)
            and value.strip()
            and not value.startswith(("prompt:", "workflow:"))
        ):
            parts.append(value.strip("\0 "))
    return " ".join(parts) or None


def has_camera_exif(meta: ImageMetadata) -> bool:
    return _camera(meta) is not None


def _software_fields(meta: ImageMetadata) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for tag, label in ((SOFTWARE, "EXIF Software"), (ARTIST, "EXIF Artist")):
        value = meta.exif.get(tag)
        if isinstance(value, str):
            fields.append((label, value))
    for key in ("Software", "software", "Source", "Creator", "Author", "generator"):
        if key in meta.text:
            fields.append((f"text:{key}", meta.text[key][:500]))
    if meta.xmp:
        for m in re.finditer(r"CreatorTool(?:>|=\")([^<\"]{1,200})", meta.xmp):
            fields.append(("XMP CreatorTool", m.group(1)))
    return fields


def cue_evidence(meta: ImageMetadata) -> list[Evidence]:
    found: list[Evidence] = []
    for where, value in _software_fields(meta):
        for family, pattern in software_patterns():
            if pattern.search(value):
                found.append(
                    Evidence(
                        "software-tag",
                        "indicative",
                        f"{where} names an AI image generator: {value.strip()[:120]!r}",
                        generator=family,
                        details={"field": where, "value": value[:500]},
                    )
                )
                break
    for family, pattern in _FILENAMES:
        if pattern.match(meta.name):
            found.append(
                Evidence(
                    "filename",
                    "indicative",
                    f"file name {meta.name!r} follows {family}'s default naming",
                    generator=family,
                )
            )
    if meta.width in SD_SIDES and meta.height in SD_SIDES and not has_camera_exif(meta):
        found.append(
            Evidence(
                "dimensions",
                "indicative",
                f"{meta.width}x{meta.height} is a typical diffusion-model output size and the file "
                "carries no camera make or model",
                details={"width": meta.width, "height": meta.height},
            )
        )
    return found
