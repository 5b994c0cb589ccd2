"""NovelAI: PNG text chunks, and the same record hidden in the alpha channel's low bits.

NovelAI writes ``Software`` = NovelAI, ``Source`` (model name and an 8-hex model id),
``Description`` (the prompt) and ``Comment`` (the request as JSON: seed, steps, sampler, ``scale``,
``uc`` = negative prompt; V4 moves prompts into ``v4_prompt`` captions with per-character prompts).
Because sites strip text chunks, it also embeds the same keys as gzip-compressed JSON in the alpha
LSBs (``stealth_pngcomp``), with ``Comment`` as a JSON string inside the JSON. Its ``signed_hash``
is NovelAI's signature over the image and is kept for the examiner.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from veriscan.analyzers.provenance.base import GenerationParams, ImageMetadata, ProvenanceError
from veriscan.analyzers.provenance.values import as_float, as_int, as_text, json_text

SOURCE = re.compile(r"^(.*?)\s+([0-9A-Fa-f]{8})$")
KEYS = ("Title", "Description", "Software", "Source", "Comment", "Generation time")
MAPPED = frozenset(
    {"prompt", "uc", "seed", "steps", "sampler", "scale", "width", "height", "noise_schedule"}
    | {"v4_prompt", "v4_negative_prompt"}
)


def _caption(value: Any) -> tuple[str | None, list[str]]:
    """(base caption, character captions) of a V4 prompt object."""
    caption = value.get("caption") if isinstance(value, dict) else None
    if not isinstance(caption, dict):
        return None, []
    chars = caption.get("char_captions")
    texts = [
        text
        for c in (chars if isinstance(chars, list) else [])
        if isinstance(c, dict) and (text := as_text(c.get("char_caption")))
    ]
    return as_text(caption.get("base_caption")), texts


def _record(fields: dict[str, Any], source: str, raw: str) -> GenerationParams:
    """One record from NovelAI's keys; Comment may be a JSON string or already an object."""
    comment = fields.get("Comment")
    if isinstance(comment, str):
        comment = json_text(comment, f"NovelAI Comment ({source})")
    request: dict[str, Any] = comment if isinstance(comment, dict) else {}
    p = GenerationParams(generator="novelai", source=source, raw=raw)
    base, characters = _caption(request.get("v4_prompt"))
    negative, negative_characters = _caption(request.get("v4_negative_prompt"))
    p.prompt = as_text(fields.get("Description")) or as_text(request.get("prompt")) or base
    p.negative_prompt = as_text(request.get("uc")) or negative
    p.seed, p.steps = as_int(request.get("seed")), as_int(request.get("steps"))
    p.sampler, p.cfg = as_text(request.get("sampler")), as_float(request.get("scale"))
    p.scheduler = as_text(request.get("noise_schedule"))
    p.width, p.height = as_int(request.get("width")), as_int(request.get("height"))
    model = as_text(fields.get("Source"))
    match = SOURCE.match(model) if model and len(model) < 256 else None
    if match:
        p.model, p.model_hash, p.model_hash_scheme = match[1], match[2].upper(), "novelai"
    else:
        p.model = model
    p.version = as_text(request.get("version")) if isinstance(request.get("version"), str) else None
    if characters or negative_characters:
        p.extra["character_prompts"] = characters
        p.extra["character_negative_prompts"] = negative_characters
    for key in ("Title", "Software", "Generation time"):
        if key in fields:
            p.extra[key] = fields[key]
    p.extra.update({k: v for k, v in request.items() if k not in MAPPED})
    return p


def _is_novelai(fields: dict[str, Any]) -> bool:
    software = fields.get("Software")
    source = fields.get("Source")
    return (isinstance(software, str) and software.strip().lower().startswith("novelai")) or (
        isinstance(source, str) and source.startswith("NovelAI Diffusion") and "Comment" in fields
    )


class NovelAIParser:
    """NovelAI's PNG text chunks and its alpha-LSB copy (read by the analyzer into meta.text)."""

    family: ClassVar[str] = "novelai"

    def parse(self, meta: ImageMetadata) -> list[GenerationParams]:
        found: list[GenerationParams] = []
        chunks: dict[str, Any] = {k: meta.text[k] for k in KEYS if k in meta.text}
        if _is_novelai(chunks):
            raw = meta.text.get("Comment") or meta.text.get("Description") or ""
            found.append(_record(chunks, "png:Comment", raw))
        hidden = meta.text.get("stealth")
        if hidden is not None and hidden.lstrip().startswith("{"):
            kind = meta.text.get("stealth_kind") or "stealth"
            try:
                fields = json_text(hidden, f"NovelAI {kind} payload")
            except ProvenanceError:
                if "NovelAI" in hidden[:4096]:
                    raise
                return found
            if isinstance(fields, dict) and _is_novelai(fields):
                found.append(_record(fields, f"lsb:{kind}", hidden))
        return found
