"""AUTOMATIC1111-format "infotext": the de facto standard for Stable Diffusion web UIs.

A1111, Forge, SD.Next, Civitai, Yodayo and several ComfyUI save nodes all write the same three-part
text (prompt, ``Negative prompt:`` line, one ``Key: value, ...`` line), into a PNG ``parameters``
chunk, the EXIF UserComment or an LSB "stealth" payload. The parameter line is split into pairs by
``infotext.split_params``; this module finds that line and maps the pairs to typed fields.
"""

from __future__ import annotations

import math
import re
from typing import ClassVar

from veriscan.analyzers.provenance.base import (
    GenerationParams,
    ImageMetadata,
    Lora,
    ProvenanceError,
)
from veriscan.analyzers.provenance.infotext import KEY, Pairs, split_params

FAMILY = "automatic1111"
MAX_TRAILING_LINES = 16

_SIZE = re.compile(r"(\d{1,6})\s*+x\s*+(\d{1,6})")
_HEX = re.compile(r"[0-9a-fA-F]+")
_EXTRA_NETWORK = re.compile(
    r"<(lora|lyco):([^:<>\n]{1,256}+)(?::([^:<>\n]{0,64}+))?(?::[^<>\n]{0,64}+)?>"
)
_LORA_N = re.compile(r"Lora_(\d+) (Model name|Model hash|Strength model)")
_FORGE_VERSION = re.compile(r"f\d+\.\d+")
_A1111_VERSION = re.compile(r"v?1\.\d+\.\d+")
_HASH_SCHEMES = {8: "autov1", 10: "autov2", 12: "autov3", 64: "sha256"}
_MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".bin", ".pth")
_TEMPLATE_KEYS = ("Template:", "Negative Template:")
_CONTROLNET = re.compile(r"ControlNet(?: \d+)?(?: Model)?")
_TEXT_FIELDS = {
    "Sampler": "sampler",
    "Schedule type": "scheduler",
    "Model": "model",
    "Model hash": "model_hash",
    "VAE": "vae",
    "Version": "version",
}


class A1111Parser:
    """Reads infotext from the PNG ``parameters`` chunk, the EXIF UserComment and stealth payloads.

    Each place is reported separately (a file may carry the same text twice, or two different
    texts after an edit), so the examiner sees where every copy was found.
    """

    family: ClassVar[str] = FAMILY

    def parse(self, meta: ImageMetadata) -> list[GenerationParams]:
        candidates: list[tuple[str, str | None]] = [
            ("png:parameters", meta.text.get("parameters")),
            ("exif:UserComment", meta.user_comment),
        ]
        if "stealth" in meta.text:
            kind = meta.text.get("stealth_kind") or "unknown"
            candidates.append((f"stealth:{kind}", meta.text["stealth"]))
        results: list[GenerationParams] = []
        errors: list[str] = []
        for source, text in candidates:
            if not text:
                continue
            try:
                params = parse_infotext(text, source)
            except ProvenanceError as exc:
                errors.append(f"{source}: {exc}")
                continue
            if params is not None:
                if meta.text.get("fooocus_scheme"):
                    params.extra["app"] = "Fooocus"
                results.append(params)
        if errors and not results:
            raise ProvenanceError("; ".join(errors))
        if errors:
            results[0].extra.setdefault("parse_warnings", []).extend(errors)
        return results


def parse_infotext(text: str, source: str) -> GenerationParams | None:
    """The infotext's parameters; None when the text is not A1111 format (JSON, a camera note).

    Raises ProvenanceError when the text claims the format but nothing usable can be read.
    """
    lines = text.replace("\r\n", "\n").strip().split("\n")
    params_at, pairs, warnings = _find_params_line(lines)
    has_negative = any(line.lstrip().startswith("Negative prompt:") for line in lines[:params_at])
    claims_steps = any(key == "Steps" for key, _ in pairs)
    if not claims_steps and not has_negative:
        return None
    sections = _sections(lines[:params_at])
    out = GenerationParams(generator=FAMILY, source=source, raw=text)
    out.prompt = sections.pop("", None)
    out.negative_prompt = sections.pop("Negative prompt", None)
    pairs = list(sections.items()) + pairs
    _apply_pairs(out, pairs)
    if params_at < len(lines) - 1:
        out.extra["trailing_text"] = "\n".join(lines[params_at + 1 :])
    if warnings:
        out.extra.setdefault("parse_warnings", []).extend(warnings)
    if out.prompt is None and out.negative_prompt is None and not out.has_generation_parameters():
        raise ProvenanceError("A1111 infotext with no readable prompt or parameters")
    return out


def _sections(lines: list[str]) -> dict[str, str]:
    """Prompt (key ""), negative prompt and SD.Next's templates, each possibly multi-line.

    SD.Next writes ``Template:``/``Negative Template:`` lines (the prompt before wildcard
    expansion) between the negative prompt and the parameters.
    """
    collected: dict[str, list[str]] = {"": []}
    current = ""
    for line in lines:
        line = line.strip()
        if current == "" and line.startswith("Negative prompt:"):
            current = "Negative prompt"
        elif current != "" and line.startswith(_TEMPLATE_KEYS):
            current = line.partition(":")[0]
        else:
            collected[current].append(line)
            continue
        collected.setdefault(current, []).append(line[len(current) + 1 :].strip())
    joined = {key: "\n".join(parts).strip() for key, parts in collected.items()}
    return {key: text for key, text in joined.items() if text}


def _find_params_line(lines: list[str]) -> tuple[int, Pairs, list[str]]:
    """A1111 reads only the last line, and only if it has three pairs; it must also start with
    a key here, which JSON and prose do not. When a writer appended lines after it, a
    ``Steps:`` line among the last few is accepted instead."""
    if KEY.match(lines[-1]):
        pairs, warnings = split_params(lines[-1])
        if len(pairs) >= 3:
            return len(lines) - 1, pairs, warnings
    for index in range(len(lines) - 2, max(-1, len(lines) - 2 - MAX_TRAILING_LINES), -1):
        if lines[index].lstrip().startswith("Steps:"):
            pairs, warnings = split_params(lines[index])
            if len(pairs) >= 3:
                return index, pairs, warnings
    return len(lines), [], []


def _apply_pairs(out: GenerationParams, pairs: Pairs) -> None:
    loras: dict[str, Lora] = {}
    for name, weight in _prompt_loras(out.prompt or ""):
        loras.setdefault(name, Lora(name=name, weight=weight))
    numbered: dict[str, dict[str, str]] = {}
    seen: dict[str, int] = {}
    for key, value in pairs:
        count = seen[key] = seen.get(key, 0) + 1
        if count > 1:
            out.extra[f"{key} #{count}"] = value
            continue
        lora_n = _LORA_N.fullmatch(key)
        if lora_n and isinstance(value, str):
            numbered.setdefault(lora_n.group(1), {})[lora_n.group(2)] = value
        elif not (isinstance(value, str) and _typed_field(out, key, value, loras)):
            out.extra[key] = value
        if _CONTROLNET.fullmatch(key) and isinstance(value, str):
            model = _controlnet_model(key, value)
            if model:
                out.controlnets.append(model)
    _apply_hashes(out, loras)
    for entry in numbered.values():
        name = _stem(entry.get("Model name", ""))
        if name:
            lora = loras.setdefault(name, Lora(name=name))
            if lora.weight is None:
                lora.weight = _float(entry.get("Strength model"))
            lora.hash = lora.hash or entry.get("Model hash") or None
    out.loras = list(loras.values())
    if out.model_hash:
        out.model_hash_scheme = _hash_scheme(out.model_hash)
    app = _app(out)
    if app:
        out.extra["app"] = app


def _typed_field(out: GenerationParams, key: str, value: str, loras: dict[str, Lora]) -> bool:
    """Stores a known key in its typed field; False leaves the pair in ``extra`` as written."""
    text = value.strip()
    if key in ("Steps", "Seed"):
        number = _int(text)
        if number is None:
            return False
        setattr(out, key.lower(), number)
    elif key == "CFG scale":
        out.cfg = _float(text)
        return out.cfg is not None
    elif key == "Size":
        size = _SIZE.fullmatch(text)
        if size is None:
            return False
        out.width, out.height = int(size.group(1)), int(size.group(2))
    elif key in _TEXT_FIELDS:
        if not text:
            return False
        setattr(out, _TEXT_FIELDS[key], text)
    elif key == "Scheduler" and out.scheduler is None and text:
        out.scheduler = text
    elif key == "Lora hashes":
        named = _name_hashes(text)
        if not named:
            return False
        for name, digest in named:
            lora = loras.setdefault(name, Lora(name=name))
            lora.hash = digest
    elif key == "TI hashes":
        named = _name_hashes(text)
        if not named:
            return False
        out.embeddings.extend(name for name, _ in named if name not in out.embeddings)
        out.extra[key] = dict(named)
    else:
        return False
    return True


def _apply_hashes(out: GenerationParams, loras: dict[str, Lora]) -> None:
    """Civitai's ``Hashes`` JSON (its A1111 extension, its own site, ComfyUI save nodes)."""
    hashes = out.extra.get("Hashes")
    if not isinstance(hashes, dict):
        return
    for key, digest in hashes.items():
        if not isinstance(digest, str):
            continue
        kind, _, name = str(key).partition(":")
        if kind in ("lora", "lyco") and name:
            lora = loras.setdefault(name, Lora(name=name))
            lora.hash = lora.hash or digest
        elif kind == "embed" and name and name not in out.embeddings:
            out.embeddings.append(name)
        elif key == "model" and not out.model_hash:
            out.model_hash = digest


def _controlnet_model(key: str, value: str) -> str | None:
    """Old units write ``ControlNet Model: x``; 1.1 units pack ``Module: m, Model: x, ...``."""
    if key.endswith("Model"):
        return value.strip() or None
    for unit_key, unit_value in split_params(value)[0]:
        if unit_key == "Model" and isinstance(unit_value, str) and unit_value.strip():
            return unit_value.strip()
    return None


def _prompt_loras(prompt: str) -> list[tuple[str, float | None]]:
    found: list[tuple[str, float | None]] = []
    for match in _EXTRA_NETWORK.finditer(prompt):
        found.append((match.group(2).strip(), _float(match.group(3))))
    return found


def _name_hashes(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for item in text.split(","):
        name, sep, digest = item.rpartition(":")
        if sep and name.strip() and digest.strip():
            pairs.append((name.strip(), digest.strip()))
    return pairs


def _app(out: GenerationParams) -> str | None:
    app = out.extra.get("App")
    if isinstance(app, str) and app.strip():
        return app.strip()
    version = out.version or ""
    if _FORGE_VERSION.match(version):
        return "Forge"
    if version.startswith("Fooocus"):
        return "Fooocus"
    if "Civitai resources" in out.extra or "Civitai metadata" in out.extra:
        return "Civitai"
    if _A1111_VERSION.match(version):
        return "A1111"
    return None


def _hash_scheme(digest: str) -> str | None:
    if _HEX.fullmatch(digest) is None:
        return None
    return _HASH_SCHEMES.get(len(digest))


def _stem(name: str) -> str:
    name = name.strip()
    for suffix in _MODEL_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _int(text: str) -> int | None:
    if len(text) > 40:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    text = (text or "").strip()
    if not text or len(text) > 40:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
