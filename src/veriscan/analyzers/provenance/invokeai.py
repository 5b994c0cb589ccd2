"""InvokeAI: four generations of metadata, read as one account per image.

2.x wrote a ``Dream`` command line and an ``sd-metadata`` JSON; 3.x and later write
``invokeai_metadata`` (the core-metadata node's output) beside the executed ``invokeai_graph`` and
the editor's ``invokeai_workflow``. The newest record present is the primary one and the older ones
fill only what it lacks, so a file gives one record, not one per chunk. A graph without a metadata
node (custom workflows) is read by following its edges from the denoise node, like ComfyUI's.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from veriscan.analyzers.provenance.base import (
    JSON,
    MAX_GRAPH_NODES,
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

CHUNKS = ("invokeai_metadata", "invokeai_graph", "invokeai_workflow", "sd-metadata", "Dream")
FIELDS = (
    *("prompt", "negative_prompt", "seed", "steps", "sampler", "scheduler", "cfg", "width"),
    *("height", "model", "model_hash", "model_hash_scheme", "vae", "version"),
)
CORE_MAPPED = frozenset(
    {"positive_prompt", "negative_prompt", "seed", "steps", "scheduler", "cfg_scale", "width"}
    | {"height", "model", "vae", "loras", "controlnets", "t2iAdapters", "app_version"}
)
DREAM_OPTIONS = {
    "-s": "steps", "--steps": "steps", "-S": "seed", "--seed": "seed", "-W": "width",
    "--width": "width", "-H": "height", "--height": "height", "-C": "cfg", "--cfg_scale": "cfg",
    "-A": "sampler", "--sampler": "sampler", "-m": "model", "--model": "model",
}  # fmt: skip
# A quoted prompt (with \" escapes) or a bare word; shlex is quadratic on a huge unclosed quote.
DREAM_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
MAX_DREAM = 256 << 10  # a dream.py command line is a few kilobytes; raw keeps all of it
NEGATIVE = re.compile(r"\[([^\[\]]*)\]")


def _list(value: Any, limit: int = MAX_LORAS) -> list[Any]:
    return value[:limit] if isinstance(value, list) else []


def _model(value: Any) -> tuple[str | None, str | None, str | None]:
    """(name, hash, scheme) of a model identifier; InvokeAI writes hashes as ``blake3:<hex>``."""
    if isinstance(value, str):
        return as_text(value), None, None
    if not isinstance(value, dict):
        return None, None, None
    name = as_text(value.get("name")) or as_text(value.get("model_name"))
    digest = as_text(value.get("hash"))
    if digest and re.fullmatch(r"[a-z0-9_]+:[0-9a-fA-F]+", digest):
        scheme, digest = digest.split(":", 1)
        return name, digest.lower(), scheme
    return name, digest, None


def _split_negative(prompt: str) -> tuple[str | None, str | None]:
    """2.x marks negative terms with square brackets inside the one prompt string."""
    negatives = [n.strip() for n in NEGATIVE.findall(prompt) if n.strip()]
    positive = re.sub(r"\s{2,}", " ", NEGATIVE.sub(" ", prompt)).strip()
    return positive or None, ", ".join(negatives) or None


def _core(data: dict[str, Any], p: GenerationParams) -> None:
    """The core-metadata node's fields (3.x names models by model_name, 4.x by name and hash)."""
    p.prompt = as_text(data.get("positive_prompt"))
    p.negative_prompt = as_text(data.get("negative_prompt"))
    p.seed, p.steps = as_int(data.get("seed")), as_int(data.get("steps"))
    p.sampler, p.cfg = as_text(data.get("scheduler")), as_float(data.get("cfg_scale"))
    p.width, p.height = as_int(data.get("width")), as_int(data.get("height"))
    p.model, p.model_hash, p.model_hash_scheme = _model(data.get("model"))
    p.vae = _model(data.get("vae"))[0]
    p.version = as_text(data.get("app_version"))
    for entry in _list(data.get("loras")):
        if isinstance(entry, dict):
            name, digest, _ = _model(entry.get("model", entry.get("lora")))
            if name:
                p.loras.append(Lora(name, as_float(entry.get("weight")), digest))
    for key, field in (("controlnets", "control_model"), ("t2iAdapters", "t2i_adapter_model")):
        for entry in _list(data.get(key)):
            name = _model(entry.get(field))[0] if isinstance(entry, dict) else None
            if name:
                p.controlnets.append(name)
    p.extra.update({k: v for k, v in data.items() if k not in CORE_MAPPED})


class _Nodes:
    """A graph or editor workflow as {node id: fields} plus its edges, to follow like ComfyUI's."""

    def __init__(self, data: JSON, what: str) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.incoming: dict[tuple[str, str], tuple[str, str]] = {}
        if not isinstance(data, dict):
            return
        raw = data.get("nodes")
        items = (
            list(raw.values()) if isinstance(raw, dict) else raw if isinstance(raw, list) else []
        )
        if len(items) > MAX_GRAPH_NODES:
            raise ProvenanceError(f"{what}: {len(items)} nodes, over the {MAX_GRAPH_NODES} limit")
        for node in items:
            if isinstance(node, dict) and isinstance(node.get("data"), dict):  # editor workflow
                inner = node["data"]
                inputs = inner.get("inputs") if isinstance(inner.get("inputs"), dict) else {}
                fields = {k: v.get("value") for k, v in inputs.items() if isinstance(v, dict)}
                self.nodes[str(node.get("id"))] = {**fields, "type": inner.get("type")}
            elif isinstance(node, dict):
                self.nodes[str(node.get("id"))] = node
        for edge in _list(data.get("edges"), 8 * MAX_GRAPH_NODES):
            if not isinstance(edge, dict):
                continue
            src, dst = edge.get("source"), edge.get("destination")
            if isinstance(src, dict) and isinstance(dst, dict):  # graph edges
                ends = (src.get("node_id"), src.get("field"), dst.get("node_id"), dst.get("field"))
            else:  # editor edges
                ends = (src, edge.get("sourceHandle"), edge.get("target"), edge.get("targetHandle"))
            if all(isinstance(e, str) for e in ends):
                self.incoming[(str(ends[2]), str(ends[3]))] = (str(ends[0]), str(ends[1]))

    def of_type(self, *kinds: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (nid, n)
            for nid, n in self.nodes.items()
            if isinstance(n.get("type"), str) and any(k in n["type"] for k in kinds)
        ]

    def value(self, nid: str, field: str) -> Any:
        """A field's literal, or the literal behind the edge into it (string/integer nodes)."""
        seen: set[str] = set()
        while nid not in seen:
            seen.add(nid)
            node = self.nodes.get(nid, {})
            if node.get(field) is not None:
                return node[field]
            if (nid, field) not in self.incoming:
                return None
            nid, out = self.incoming[(nid, field)]
            node = self.nodes.get(nid, {})
            field = next((f for f in (out, "value", "prompt") if node.get(f) is not None), out)
        return None


def _from_graph(nodes: _Nodes, p: GenerationParams) -> None:
    meta = nodes.of_type("core_metadata", "metadata_accumulator")
    if meta:
        _core(meta[0][1], p)
        return
    for nid, _ in nodes.of_type("denoise")[:1]:
        p.steps = as_int(nodes.value(nid, "steps"))
        p.cfg = as_float(nodes.value(nid, "cfg_scale"))
        p.sampler = as_text(nodes.value(nid, "scheduler"))
        for side, attr in (
            ("positive_conditioning", "prompt"),
            ("negative_conditioning", "negative_prompt"),
        ):
            source = nodes.incoming.get((nid, side))
            if source is not None:
                setattr(p, attr, as_text(nodes.value(source[0], "prompt")))
        # SD denoise takes seed and size from a noise node; FLUX denoise holds them itself.
        holder = nodes.incoming.get((nid, "noise"), (nid, ""))[0]
        p.seed = as_int(nodes.value(holder, "seed"))
        p.width = as_int(nodes.value(holder, "width"))
        p.height = as_int(nodes.value(holder, "height"))
        p.steps = p.steps if p.steps is not None else as_int(nodes.value(nid, "num_steps"))
    for _, node in nodes.of_type("model_loader"):
        name, digest, scheme = _model(node.get("model"))
        if name and p.model is None:
            p.model, p.model_hash, p.model_hash_scheme = name, digest, scheme
    for _, node in nodes.of_type("lora"):
        name, digest, _ = _model(node.get("lora"))
        if name:
            p.loras.append(Lora(name, as_float(node.get("weight")), digest))


def _sd_metadata(data: dict[str, Any], p: GenerationParams) -> None:
    """2.x: app and model at the top, the generation under ``image`` (``images[0]`` in 2.0)."""
    image = data.get("image")
    if not isinstance(image, dict) and isinstance(data.get("images"), list) and data["images"]:
        image = data["images"][0]
    image = image if isinstance(image, dict) else {}
    prompt = image.get("prompt")
    if isinstance(prompt, list):  # a blend ("dog:2,cat:1") is stored as weighted parts
        parts = [x for x in prompt if isinstance(x, dict) and isinstance(x.get("prompt"), str)]
        prompt = "".join(x["prompt"] for x in parts)
        if len(parts) > 1:
            p.extra["prompt_weights"] = parts
    if isinstance(prompt, str):
        p.prompt, p.negative_prompt = _split_negative(prompt)
    p.seed, p.steps = as_int(image.get("seed")), as_int(image.get("steps"))
    p.sampler, p.cfg = as_text(image.get("sampler")), as_float(image.get("cfg_scale"))
    p.width, p.height = as_int(image.get("width")), as_int(image.get("height"))
    p.model = as_text(data.get("model_weights")) or as_text(data.get("model_id"))
    p.model_hash = as_text(data.get("model_hash"))
    if p.model_hash and re.fullmatch(r"[0-9a-fA-F]{64}", p.model_hash):
        p.model_hash_scheme = "sha256"
    p.version = as_text(data.get("app_version"))
    p.extra.update({"app_id": data.get("app_id"), "model_family": data.get("model")})
    p.extra.update(
        {
            k: v
            for k, v in image.items()
            if k not in ("prompt", "seed", "steps", "sampler", "cfg_scale", "width", "height")
        }
    )


def _dream(text: str, p: GenerationParams) -> None:
    """``"prompt" -s 50 -S 42 -W 512 ...``: the prompt, then dream.py's command-line options."""
    tokens = [quoted or bare for quoted, bare in DREAM_TOKEN.findall(text[:MAX_DREAM])]
    first = next(
        (i for i, t in enumerate(tokens) if re.fullmatch(r"--?[A-Za-z][\w-]*", t)), len(tokens)
    )
    p.prompt, p.negative_prompt = _split_negative(" ".join(tokens[:first]))
    options: dict[str, str | bool] = {}
    rest = tokens[first:]
    for i, token in enumerate(rest):
        if re.fullmatch(r"--?[A-Za-z][\w-]*", token):
            following = rest[i + 1] if i + 1 < len(rest) else None
            takes = following is not None and not re.fullmatch(r"--?[A-Za-z][\w-]*", following)
            options[token] = following if takes and following is not None else True
    for option, field in DREAM_OPTIONS.items():
        value = options.get(option)
        if isinstance(value, str):
            setattr(
                p,
                field,
                {
                    "seed": as_int,
                    "steps": as_int,
                    "width": as_int,
                    "height": as_int,
                    "cfg": as_float,
                }.get(field, as_text)(value),
            )
    p.extra["options"] = {k: v for k, v in options.items() if k not in DREAM_OPTIONS}


class InvokeAIParser:
    """InvokeAI PNG text chunks, 2.x (Dream, sd-metadata) to 5.x (metadata, graph, workflow)."""

    family: ClassVar[str] = "invokeai"

    def parse(self, meta: ImageMetadata) -> list[GenerationParams]:
        present = [c for c in CHUNKS if c in meta.text]
        if not present:
            return []
        records: list[GenerationParams] = []
        errors: list[str] = []
        documents: dict[str, JSON] = {}
        for chunk in present:
            text = meta.text[chunk]
            p = GenerationParams(generator=self.family, source=f"png:{chunk}", raw=text)
            try:
                if chunk == "Dream":
                    _dream(text, p)
                else:
                    data = json_text(text, f"InvokeAI {chunk}")
                    if not isinstance(data, dict):
                        raise ProvenanceError(f"InvokeAI {chunk}: JSON is not an object")
                    documents[chunk] = data
                    if chunk == "invokeai_metadata":
                        _core(data, p)
                    elif chunk == "sd-metadata":
                        _sd_metadata(data, p)
                    else:
                        _from_graph(_Nodes(data, f"InvokeAI {chunk}"), p)
            except ProvenanceError as exc:
                errors.append(str(exc))
                continue
            records.append(p)
        if not records:
            raise ProvenanceError("; ".join(errors))
        primary = records[0]
        for other in records[1:]:
            for field in FIELDS:
                if getattr(primary, field) is None:
                    setattr(primary, field, getattr(other, field))
            primary.loras = primary.loras or other.loras
            primary.controlnets = primary.controlnets or other.controlnets
        if len(records) > 1:
            primary.extra["also_in"] = [r.source for r in records[1:]]
        if "Dream" in present and primary.source != "png:Dream":
            primary.extra["dream"] = meta.text["Dream"]
        graphs = {
            k: documents[k] for k in ("invokeai_graph", "invokeai_workflow") if k in documents
        }
        primary.workflow = graphs or None
        if errors:
            primary.extra["errors"] = errors
        return [primary]
