"""Fooocus: its own JSON scheme, in a PNG ``parameters`` chunk or in JPEG/WebP EXIF.

Fooocus (2.2 and later) writes ``parameters`` plus ``fooocus_scheme`` (``fooocus`` or ``a1111``)
into PNGs; for JPEG and WebP it puts the same text in EXIF UserComment, the scheme in MakerNote and
``Fooocus v<version>`` in Software. The ``a1111`` scheme is A1111 infotext and is left to that
parser. Fooocus hashes models as the first 10 hex digits of the file's SHA-256 (A1111's AutoV2).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from veriscan.analyzers.provenance.base import GenerationParams, ImageMetadata, Lora
from veriscan.analyzers.provenance.values import (
    MAX_LORAS,
    as_float,
    as_int,
    as_text,
    json_text,
)

MAKER_NOTE = 0x927C
SOFTWARE = 0x0131
USER_COMMENT = 0x9286
MAPPED = frozenset(
    {"prompt", "negative_prompt", "seed", "steps", "sampler", "scheduler", "guidance_scale"}
    | {"resolution", "base_model", "base_model_hash", "vae", "loras", "version"}
)


def _hash_scheme(digest: str | None) -> str | None:
    if digest is None:
        return None
    if re.fullmatch(r"[0-9a-fA-F]{10}", digest):
        return "autov2"
    return "sha256" if re.fullmatch(r"[0-9a-fA-F]{64}", digest) else None


def _loras(data: dict[str, Any]) -> list[Lora]:
    """2.3+ lists ``loras`` as [name, weight, hash]; 2.2 wrote ``lora_combined_N`` = "name : w"."""
    found: list[Lora] = []
    listed = data.get("loras")
    for entry in listed[:MAX_LORAS] if isinstance(listed, list) else []:
        if isinstance(entry, list) and entry and (name := as_text(entry[0])):
            weight = as_float(entry[1]) if len(entry) > 1 else None
            digest = as_text(entry[2]) if len(entry) > 2 else None
            found.append(Lora(name, weight, digest))
    if found:
        return found
    combined = sorted(k for k in data if re.fullmatch(r"lora_combined_\d+", k))
    for key in combined[:MAX_LORAS]:
        parts = [part.strip() for part in str(data[key]).split(" : ")]
        if len(parts) == 3:  # "enabled : name : weight"
            if parts[0] == "False":
                continue
            parts = parts[1:]
        if len(parts) == 2 and (name := as_text(parts[0])):
            found.append(Lora(name, as_float(parts[1])))
    return found


def _record(data: dict[str, Any], source: str, raw: str) -> GenerationParams:
    p = GenerationParams(generator="fooocus", source=source, raw=raw)
    p.prompt = as_text(data.get("prompt"))
    p.negative_prompt = as_text(data.get("negative_prompt"))
    p.seed, p.steps = as_int(data.get("seed")), as_int(data.get("steps"))
    p.sampler, p.scheduler = as_text(data.get("sampler")), as_text(data.get("scheduler"))
    p.cfg = as_float(data.get("guidance_scale"))
    size = re.findall(r"\d+", str(data.get("resolution") or ""))
    if len(size) == 2:
        p.width, p.height = int(size[0]), int(size[1])
    p.model = as_text(data.get("base_model"))
    p.model_hash = as_text(data.get("base_model_hash"))
    p.model_hash_scheme = _hash_scheme(p.model_hash)
    vae = as_text(data.get("vae"))
    p.vae = vae if vae and not vae.startswith("Default") else None
    p.loras = _loras(data)
    p.version = as_text(data.get("version"))
    p.extra = {k: v for k, v in data.items() if k not in MAPPED}
    return p


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip("\0 ").lower() if isinstance(value, str) else None


class FooocusParser:
    """Fooocus-scheme JSON from PNG text chunks and from JPEG/WebP EXIF."""

    family: ClassVar[str] = "fooocus"

    def parse(self, meta: ImageMetadata) -> list[GenerationParams]:
        found: list[GenerationParams] = []
        scheme = _text(meta.text.get("fooocus_scheme"))
        parameters = meta.text.get("parameters")
        if parameters is not None and scheme != "a1111":
            claims = scheme is not None or (
                parameters.lstrip().startswith("{")
                and re.search(r'"(metadata_scheme|version)"\s*:\s*"[Ff]ooocus', parameters)
            )
            if claims:
                found += self._json(parameters, "png:parameters")
        maker = _text(meta.exif.get(MAKER_NOTE))
        software = _text(meta.exif.get(SOFTWARE)) or ""
        comment = meta.user_comment
        # MakerNote names the scheme; without it, Fooocus's Software tag and a JSON comment do.
        claims = maker == "fooocus" or (
            maker is None and software.startswith("fooocus") and (comment or "").lstrip()[:1] == "{"
        )
        if comment is not None and claims:
            found += self._json(comment, "exif:UserComment")
        return found

    def _json(self, text: str, source: str) -> list[GenerationParams]:
        data = json_text(text, f"Fooocus {source}")
        if not isinstance(data, dict):
            return []
        return [_record(data, source, text)]
