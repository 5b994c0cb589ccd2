"""Draw Things, Easy Diffusion and Midjourney: smaller formats, each with its own container.

Draw Things (iOS/macOS) writes XMP: ``xmp:CreatorTool`` = Draw Things, its settings as JSON in
``exif:UserComment`` and an A1111-like summary in ``dc:description``. Easy Diffusion embeds each
setting as its own PNG text chunk (``str()`` of the value, so lists arrive as Python reprs) or, in
JPEG/WebP, all of them as JSON in EXIF UserComment. Midjourney puts the prompt, its ``--flags`` and
``Job ID: <uuid>`` in the description (PNG ``Description``, XMP, EXIF or IPTC) with the account
name as author, and marks XMP with IPTC's trainedAlgorithmicMedia and a ``DigImageGUID``.

XMP is read with bounded regular expressions, not an XML parser: only a few properties are needed
and the packet is untrusted input.
"""

from __future__ import annotations

import html
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

IMAGE_DESCRIPTION = 0x010E
ARTIST = 0x013B
MAX_DESCRIPTION = 64 << 10  # Midjourney prompts are a few thousand characters at most
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def _element(text: str, tag: str) -> str | None:
    """The content of the first ``<tag ...>...</tag>``, found with str.find so that hostile
    packets (unclosed or repeated tags) cost linear time, which a lazy regex does not."""
    start = text.find(f"<{tag}")
    while start != -1:
        head_end = text.find(">", start)
        if head_end == -1:
            return None
        follows = text[start + len(tag) + 1 : start + len(tag) + 2]
        if follows in (">", "/") or follows.isspace():
            if text[head_end - 1] == "/":
                return ""
            close = text.find(f"</{tag}>", head_end)
            return text[head_end + 1 : close] if close != -1 else None
        start = text.find(f"<{tag}", start + 1)
    return None


def xmp_property(xmp: str | None, name: str) -> str | None:
    """An XMP property's text, element or attribute form; the first item of an Alt/Seq/Bag."""
    if not xmp:
        return None
    content = _element(xmp, name)
    if content is not None:
        item = _element(content, "rdf:li")
        value = item if item is not None else content
        return html.unescape(value).strip() if "<" not in value else None
    at = xmp.find(f"{name}=")
    while at > 0 and not xmp[at - 1].isspace():  # not the tail of a longer attribute name
        at = xmp.find(f"{name}=", at + 1)
    start = at + len(name) + 2
    if at <= 0 or start > len(xmp) or xmp[start - 1] not in "\"'":
        return None
    end = xmp.find(xmp[start - 1], start)
    return html.unescape(xmp[start:end]).strip() if end != -1 else None


def _size(value: Any) -> tuple[int | None, int | None]:
    parts = (
        re.fullmatch(r"\s*(\d+)\s*[x\u00d7*]\s*(\d+)\s*", value) if isinstance(value, str) else None
    )
    return (int(parts[1]), int(parts[2])) if parts else (None, None)


class DrawThingsParser:
    """Draw Things settings from XMP (JSON in exif:UserComment, else the dc:description summary)."""

    family: ClassVar[str] = "drawthings"
    MAPPED = frozenset({"c", "uc", "seed", "steps", "model", "sampler", "scale", "size", "lora"})

    def parse(self, meta: ImageMetadata) -> list[GenerationParams]:
        tool = xmp_property(meta.xmp, "xmp:CreatorTool") or ""
        comment = xmp_property(meta.xmp, "exif:UserComment")
        settings = comment is not None and comment.startswith("{") and '"c"' in comment
        if "draw things" not in tool.lower() and not settings:
            return []
        p = GenerationParams(
            generator=self.family, source="xmp:exif:UserComment", raw=comment or ""
        )
        if comment is not None and comment.startswith("{"):
            data = json_text(comment, "Draw Things exif:UserComment")
            if isinstance(data, dict):
                self._settings(data, p)
                return [p]
        description = xmp_property(meta.xmp, "dc:description")
        p.source, p.raw = "xmp:dc:description", description or ""
        if description:
            self._summary(description, p)
        p.extra["creator_tool"] = tool
        return [p]

    def _settings(self, data: dict[str, Any], p: GenerationParams) -> None:
        p.prompt, p.negative_prompt = as_text(data.get("c")), as_text(data.get("uc"))
        p.seed, p.steps = as_int(data.get("seed")), as_int(data.get("steps"))
        p.model, p.sampler = as_text(data.get("model")), as_text(data.get("sampler"))
        p.cfg = as_float(data.get("scale"))
        p.width, p.height = _size(data.get("size"))
        v2: dict[str, Any] = data["v2"] if isinstance(data.get("v2"), dict) else {}
        entries = data.get("lora") if isinstance(data.get("lora"), list) else v2.get("loras")
        for entry in entries[:MAX_LORAS] if isinstance(entries, list) else []:
            if isinstance(entry, dict) and (name := as_text(entry.get("file"))):
                p.loras.append(Lora(name, as_float(entry.get("weight"))))
        p.extra = {k: v for k, v in data.items() if k not in self.MAPPED}

    def _summary(self, text: str, p: GenerationParams) -> None:
        """``prompt``, ``-negative``, then ``Steps: 20, Sampler: ..., Seed: ...`` lines."""
        lines = text[:MAX_DESCRIPTION].splitlines()
        last = lines[-1] if len(lines) > 1 and "Steps:" in lines[-1] else ""
        body = lines[:-1] if last else lines
        p.prompt = as_text("\n".join(x for x in body if not x.startswith("-")))
        p.negative_prompt = as_text("\n".join(x[1:] for x in body if x.startswith("-")))
        fields = dict(re.findall(r"([A-Za-z][A-Za-z ]{0,40}):\s*([^,]*)", last[:4096]))
        p.steps, p.seed = as_int(fields.get("Steps")), as_int(fields.get("Seed"))
        p.sampler, p.model = as_text(fields.get("Sampler")), as_text(fields.get("Model"))
        p.cfg = as_float(fields.get("Guidance Scale"))
        p.width, p.height = _size(fields.get("Size"))


# Easy Diffusion's embedded keys, and the labels it uses instead when "txt" metadata is also on.
EASY_KEYS = {
    "prompt": ("prompt", "Prompt"),
    "negative_prompt": ("negative_prompt", "Negative Prompt"),
    "seed": ("seed", "Seed"),
    "model": ("use_stable_diffusion_model", "Stable Diffusion model"),
    "steps": ("num_inference_steps", "Steps"),
    "cfg": ("guidance_scale", "Guidance Scale"),
    "sampler": ("sampler_name", "Sampler"),
    "width": ("width", "Width"),
    "height": ("height", "Height"),
    "vae": ("use_vae_model", "VAE model"),
    "loras": ("use_lora_model", "LoRA model"),
    "lora_weights": ("lora_alpha", "LoRA Strength"),
    "embeddings": ("use_embeddings_model", "Embedding models"),
    "controlnets": ("use_controlnet_model", "ControlNet model"),
}
EASY_MARKERS = ("use_stable_diffusion_model", "Stable Diffusion model")


def _items(value: Any) -> list[str]:
    """A list that may be JSON, a Python repr ("['a', 'b']"), a ", "-joined string or one name."""
    if isinstance(value, list):
        return [str(v) for v in value[:MAX_LORAS] if as_text(str(v))]
    text = as_text(value) if isinstance(value, str) else None
    if text is None:
        return []
    if text.startswith("[") and text.endswith("]"):
        quoted = re.findall(r"'([^']*)'|\"([^\"]*)\"", text)
        found = [a or b for a, b in quoted] or re.findall(r"-?\d+(?:\.\d+)?", text)
        return [f for f in found[:MAX_LORAS] if as_text(f)]
    return [part.strip() for part in text.split(",", MAX_LORAS)[:MAX_LORAS] if as_text(part)]


class EasyDiffusionParser:
    """Easy Diffusion's per-setting PNG text chunks, or its JSON in JPEG/WebP EXIF UserComment."""

    family: ClassVar[str] = "easydiffusion"

    def parse(self, meta: ImageMetadata) -> list[GenerationParams]:
        found: list[GenerationParams] = []
        if any(k in meta.text for k in EASY_MARKERS):
            raw = "\n".join(f"{k}: {v}" for k, v in meta.text.items() if k not in ("xmp", "exif"))
            found.append(self._record(dict(meta.text), "png:text", raw))
        comment = (meta.user_comment or "").strip()
        if comment.startswith("{") and any(f'"{k}"' in comment for k in EASY_MARKERS):
            data = json_text(comment, "Easy Diffusion EXIF UserComment")
            if isinstance(data, dict):
                found.append(self._record(data, "exif:UserComment", comment))
        return found

    def _record(self, data: dict[str, Any], source: str, raw: str) -> GenerationParams:
        def get(field: str) -> Any:
            return next((data[k] for k in EASY_KEYS[field] if k in data), None)

        p = GenerationParams(generator=self.family, source=source, raw=raw)
        p.prompt, p.negative_prompt = as_text(get("prompt")), as_text(get("negative_prompt"))
        p.seed, p.steps = as_int(get("seed")), as_int(get("steps"))
        p.cfg, p.sampler = as_float(get("cfg")), as_text(get("sampler"))
        p.width, p.height = as_int(get("width")), as_int(get("height"))
        p.model, p.vae = as_text(get("model")), as_text(get("vae"))
        weights = _items(get("lora_weights"))
        for i, name in enumerate(_items(get("loras"))):
            p.loras.append(Lora(name, as_float(weights[i]) if i < len(weights) else None))
        p.embeddings, p.controlnets = _items(get("embeddings")), _items(get("controlnets"))
        mapped = {k for keys in EASY_KEYS.values() for k in keys}
        p.extra = {k: v for k, v in data.items() if k not in mapped and k not in ("xmp", "exif")}
        return p


class MidjourneyParser:
    """Midjourney's description (prompt, flags, Job ID) and its XMP provenance marks."""

    family: ClassVar[str] = "midjourney"

    def parse(self, meta: ImageMetadata) -> list[GenerationParams]:
        descriptions = [
            ("png:Description", meta.text.get("Description")),
            ("xmp:dc:description", xmp_property(meta.xmp, "dc:description")),
            ("exif:ImageDescription", meta.exif.get(IMAGE_DESCRIPTION)),
            ("iptc:2:120", _iptc(meta, (2, 120))),
        ]
        xmp = meta.xmp or ""
        guid = re.search(rf"DigImageGUID\s*(?:>|=\s*[\"'])\s*({UUID})", xmp)
        generated = "trainedAlgorithmicMedia" in xmp and "DigitalSourceType" in xmp
        for source, text in descriptions:
            if not isinstance(text, str) or not text.strip():
                continue
            text = text[:MAX_DESCRIPTION]
            job = re.search(rf"Job ID:\s*({UUID})", text)
            flagged = re.search(r"\s--(v|niji|ar|style|stylize|chaos)\b", text)
            if job or (generated and (guid or flagged)):
                return [self._record(meta, source, text, job[1] if job else None, guid)]
        if generated and guid and self._author(meta):
            p = GenerationParams(generator=self.family, source="xmp:DigImageGUID", raw=guid[0])
            p.extra = {"dig_image_guid": guid[1], "author": self._author(meta)}
            return [p]
        return []

    def _record(
        self, meta: ImageMetadata, source: str, text: str, job: str | None, guid: Any
    ) -> GenerationParams:
        p = GenerationParams(generator=self.family, source=source, raw=text)
        body = text.split("Job ID:", 1)[0]
        parts = re.split(r"\s--(?=[A-Za-z])", body)
        p.prompt = as_text(parts[0])
        flags: dict[str, str] = {}
        for part in parts[1:]:
            key, _, value = part.strip().partition(" ")
            flags[key.lower()] = value.strip()
        version = flags.get("v") or flags.get("version")
        if "niji" in flags:
            p.version = f"niji {flags['niji']}".strip()
            p.model = f"Niji {flags['niji']}".strip()
        elif version:
            p.version, p.model = version, f"Midjourney v{version}"
        p.seed = as_int(flags.get("seed"))
        p.extra = {"parameters": flags, "job_id": job, "author": self._author(meta)}
        p.extra["creation_time"] = meta.text.get("Creation Time")
        p.extra["dig_image_guid"] = guid[1] if guid else None
        p.extra = {k: v for k, v in p.extra.items() if v}
        return p

    @staticmethod
    def _author(meta: ImageMetadata) -> str | None:
        for value in (
            meta.text.get("Author"),
            xmp_property(meta.xmp, "dc:creator"),
            meta.exif.get(ARTIST),
            _iptc(meta, (2, 80)),
        ):
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None


def _iptc(meta: ImageMetadata, key: tuple[int, int]) -> str | None:
    values = meta.iptc.get(key) or []
    return values[0].decode("utf-8", "replace") if values else None
