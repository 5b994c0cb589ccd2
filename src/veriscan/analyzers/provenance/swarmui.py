"""SwarmUI (and StableSwarmUI): one JSON object, ``sui_image_params``, wherever the format allows.

PNGs carry it in the ``parameters`` text chunk (where A1111 puts infotext, hence the JSON check);
JPEG and WebP in EXIF UserComment; SwarmUI's own reader also looks at EXIF Model, so that is read
too. ``sui_models`` lists each model with its ModelSpec ``hash_sha256``, a digest of the tensors
rather than of the file, hence its own scheme name.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from veriscan.analyzers.provenance.base import (
    GenerationParams,
    ImageMetadata,
    Lora,
    ProvenanceError,
)
from veriscan.analyzers.provenance.values import (
    MAX_LORAS,
    as_float,
    as_int,
    as_text,
    json_text,
)

EXIF_MODEL = 0x0110
MAPPED = frozenset(
    {"prompt", "negativeprompt", "seed", "steps", "cfgscale", "width", "height", "sampler"}
    | {"scheduler", "comfyuisampler", "comfyuischeduler", "model", "vae", "loras", "loraweights"}
    | {"swarm_version"}
)


def _names(value: Any) -> list[str]:
    """SwarmUI lists LoRAs as a JSON list or, in older versions, a comma-separated string."""
    items = value if isinstance(value, list) else value.split(",") if isinstance(value, str) else []
    return [str(item).strip() for item in items[:MAX_LORAS] if str(item).strip()]


def _record(data: dict[str, Any], source: str, raw: str) -> GenerationParams:
    params = data.get("sui_image_params")
    params = params if isinstance(params, dict) else {}
    p = GenerationParams(generator="swarmui", source=source, raw=raw)
    p.prompt = as_text(params.get("prompt"))
    p.negative_prompt = as_text(params.get("negativeprompt"))
    p.seed, p.steps = as_int(params.get("seed")), as_int(params.get("steps"))
    p.cfg = as_float(params.get("cfgscale"))
    p.width, p.height = as_int(params.get("width")), as_int(params.get("height"))
    p.sampler = as_text(params.get("sampler")) or as_text(params.get("comfyuisampler"))
    p.scheduler = as_text(params.get("scheduler")) or as_text(params.get("comfyuischeduler"))
    p.model, p.vae = as_text(params.get("model")), as_text(params.get("vae"))
    p.version = as_text(params.get("swarm_version"))
    weights = _names(params.get("loraweights"))
    for i, name in enumerate(_names(params.get("loras"))):
        p.loras.append(Lora(name, as_float(weights[i]) if i < len(weights) else None))
    models = data.get("sui_models")
    for entry in models if isinstance(models, list) else []:
        if not isinstance(entry, dict):
            continue
        listed = as_text(entry.get("hash"))
        digest = (
            listed[2:].lower() if listed and re.fullmatch(r"0x[0-9a-fA-F]+", listed) else listed
        )
        filename, param = as_text(entry.get("name")), entry.get("param")
        if param == "model" and p.model_hash is None:
            p.model_hash, p.model_hash_scheme = digest, "modelspec-sha256" if digest else None
        for lora in p.loras:
            stem = (filename or "").rsplit(".", 1)[0]
            if stem and lora.hash is None and stem.endswith(lora.name):
                lora.hash = digest
    p.extra = {k: v for k, v in params.items() if k not in MAPPED}
    for key in ("sui_extra_data", "sui_models"):
        if key in data:
            p.extra[key] = data[key]
    return p


class SwarmUIParser:
    """``sui_image_params`` JSON from PNG text chunks, EXIF UserComment or EXIF Model."""

    family: ClassVar[str] = "swarmui"

    def parse(self, meta: ImageMetadata) -> list[GenerationParams]:
        candidates = [(f"png:{k}", meta.text.get(k)) for k in ("parameters", "sui_image_params")]
        candidates += [("exif:UserComment", meta.user_comment)]
        model = meta.exif.get(EXIF_MODEL)
        candidates += [("exif:0x0110", model if isinstance(model, str) else None)]
        found: list[GenerationParams] = []
        for source, text in candidates:
            direct = source == "png:sui_image_params"
            if text is None or not text.lstrip().startswith("{"):
                continue
            if not direct and '"sui_image_params"' not in text:
                continue
            data = json_text(text, f"SwarmUI {source}")
            if direct and isinstance(data, dict):
                data = data if "sui_image_params" in data else {"sui_image_params": data}
            if not isinstance(data, dict) or not isinstance(data.get("sui_image_params"), dict):
                raise ProvenanceError(f"SwarmUI {source}: sui_image_params is not an object")
            found.append(_record(data, source, text))
        return found
