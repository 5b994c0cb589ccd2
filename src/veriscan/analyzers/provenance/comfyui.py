"""ComfyUI: the node graph is the record of generation, so it is walked, not pattern-matched.

ComfyUI saves two graphs: ``prompt``, the executed API graph (node id -> class_type and inputs, a
link being ``[node_id, output_index]``), and ``workflow``, the editor's graph (positional widget
values, links in a table). Only the API graph says what actually ran, so parameters are read from it
by following each sampler's links; the editor graph is converted to the same shape when it is all a
file has. Custom nodes rename everything, so the walk keys on input names (``model``, ``positive``,
``ckpt_name``...) rather than on a closed list of node classes, and every model file named anywhere
in the graph is kept too, so that none escapes the report. One record is returned per sampler: a
refiner or hires pass can use another model, seed and prompt than the base pass.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from veriscan.analyzers.provenance.base import (
    JSON,
    MAX_GRAPH_NODES,
    GenerationParams,
    ImageMetadata,
    ProvenanceError,
)
from veriscan.analyzers.provenance.comfy_graph import (
    Graph,
    Walk,
    graph_models,
    is_sampler,
    link,
    sampler_record,
)
from veriscan.analyzers.provenance.values import as_text, json_text

MAX_SAMPLERS = 64
GRAPH_START = re.compile(r'\s*\{\s*"')


def api_graph(data: JSON, what: str) -> Graph:
    """The executable nodes of an API graph; other keys (Civitai's ``extra``) are skipped."""
    if not isinstance(data, dict):
        return {}
    if len(data) > MAX_GRAPH_NODES:
        raise ProvenanceError(f"{what}: {len(data)} nodes, over the {MAX_GRAPH_NODES} limit")
    graph: Graph = {}
    for key, node in data.items():
        if isinstance(node, dict) and isinstance(node.get("class_type"), str):
            inputs = node.get("inputs")
            graph[str(key)] = {
                "class_type": node["class_type"],
                "inputs": inputs if isinstance(inputs, dict) else {},
            }
    return graph


WIDGETS: dict[str, tuple[str, ...]] = {
    "CheckpointLoaderSimple": ("ckpt_name",),
    "CheckpointLoader": ("config_name", "ckpt_name"),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "VAELoader": ("vae_name",),
    "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
    "LoraLoaderModelOnly": ("lora_name", "strength_model"),
    "HypernetworkLoader": ("hypernetwork_name", "strength"),
    "ControlNetLoader": ("control_net_name",),
    "CLIPTextEncode": ("text",),
    "CLIPTextEncodeSDXL": ("width", "height", "crop_w", "crop_h", "tw", "th", "text_g", "text_l"),
    "CLIPTextEncodeFlux": ("clip_l", "t5xxl", "guidance"),
    "KSampler": ("seed", "control", "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": (
        *("add_noise", "noise_seed", "control", "steps", "cfg", "sampler_name", "scheduler"),
        *("start_at_step", "end_at_step", "return_with_leftover_noise"),
    ),
    "RandomNoise": ("noise_seed",),
    "BasicScheduler": ("scheduler", "steps", "denoise"),
    "KSamplerSelect": ("sampler_name",),
    "CFGGuider": ("cfg",),
    "FluxGuidance": ("guidance",),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "EmptySD3LatentImage": ("width", "height", "batch_size"),
    "LatentUpscale": ("upscale_method", "width", "height", "crop"),
    "ImageScale": ("upscale_method", "width", "height", "crop"),
    "PrimitiveNode": ("value",),
    "AutoNegativePrompt": ("postive_prompt", "base_negative"),
}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _key(value: Any) -> int | str | None:
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


def _count(data: dict[str, Any]) -> int:
    """Nodes in an editor graph, those of its subgraphs (newer frontends) included."""
    definitions = data.get("definitions")
    subgraphs = definitions.get("subgraphs") if isinstance(definitions, dict) else None
    total = len(data["nodes"])
    for sub in subgraphs if isinstance(subgraphs, list) else []:
        nodes = sub.get("nodes") if isinstance(sub, dict) else None
        total += len(nodes) if isinstance(nodes, list) else 0
    return total


def ui_graph(data: JSON, what: str) -> Graph:
    """The editor graph in API shape: known widgets named, linked inputs as [node, slot]."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return {}
    if (count := _count(data)) > MAX_GRAPH_NODES:
        raise ProvenanceError(f"{what}: {count} nodes, over the {MAX_GRAPH_NODES} limit")
    origins: dict[int | str, list[Any]] = {}
    for entry in _items(data.get("links")):
        if isinstance(entry, list) and len(entry) >= 3 and (lid := _key(entry[0])) is not None:
            origins[lid] = [entry[1], entry[2]]
        elif isinstance(entry, dict) and (lid := _key(entry.get("id"))) is not None:
            origins[lid] = [entry.get("origin_id"), entry.get("origin_slot")]
    graph: Graph = {}
    for node in data["nodes"]:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            continue
        values = node.get("widgets_values")
        inputs: dict[str, Any] = dict(values) if isinstance(values, dict) else {}
        if isinstance(values, list):
            names = WIDGETS.get(node["type"], ())
            for i, val in enumerate(values):
                inputs[names[i] if i < len(names) else f"widget_{i}"] = val
        for slot in _items(node.get("inputs")):
            lid = _key(slot.get("link")) if isinstance(slot, dict) else None
            ref = link(origins.get(lid)) if lid is not None else None
            if isinstance(slot, dict) and ref is not None:
                inputs[str(slot.get("name") or "input")] = [ref[0], ref[1]]
        mode = node.get("mode")
        graph[str(node.get("id"))] = {"class_type": node["type"], "inputs": inputs, "mode": mode}
    return graph


def _civitai(data: JSON, p: GenerationParams) -> None:
    """Civitai's on-site generator saves a ComfyUI graph with resource URNs and its own summary."""
    if not isinstance(data, dict):
        return
    keys = " ".join(map(str, data))
    if "resource-stack" not in keys and "extraMetadata" not in keys and "urn:air:" not in p.raw:
        return
    p.extra["app"] = "Civitai"
    extra = data.get("extra")
    if isinstance(extra, dict) and isinstance(extra.get("airs"), list):
        p.extra["civitai_resources"] = [a for a in extra["airs"] if isinstance(a, str)]
    summary = data.get("extraMetadata")
    if isinstance(summary, str):
        try:
            p.extra["civitai"] = json_text(summary, "Civitai extraMetadata")
        except ProvenanceError as exc:
            p.extra["civitai_error"] = str(exc)


Chunk = tuple[str, str]


def _load(chunk: Chunk | None) -> tuple[JSON, str | None]:
    """(JSON, None), or (None, error) when the chunk claims a graph but cannot be read."""
    if chunk is None:
        return None, None
    try:
        return json_text(chunk[1], f"ComfyUI {chunk[0]}"), None
    except ProvenanceError as exc:
        return None, str(exc)


def _records(prompt: Chunk | None, workflow: Chunk | None) -> list[GenerationParams]:
    """One record per sampler; a broken graph is an error only when the other cannot stand in."""
    api, api_error = _load(prompt)
    ui, ui_error = _load(workflow)
    graph = api_graph(api, f"ComfyUI {prompt[0]}") if prompt else {}
    used = prompt
    if not graph and workflow is not None:
        graph, used = ui_graph(ui, f"ComfyUI {workflow[0]}"), workflow
    if not graph or used is None:
        if api_error or ui_error:
            raise ProvenanceError(api_error or ui_error or "")
        if prompt is not None and not isinstance(api, dict):
            raise ProvenanceError(f"ComfyUI {prompt[0]}: JSON is not a node graph")
        return []
    base = GenerationParams(generator="comfyui", source=used[0], raw=used[1])
    walk = Walk(graph)
    samplers = sorted(
        (nid for nid, node in graph.items() if is_sampler(node)),
        key=lambda nid: (0, int(nid), "") if nid.isdigit() else (1, 0, nid),
    )
    records = [sampler_record(walk, nid, base) for nid in samplers[:MAX_SAMPLERS]]
    if not records:
        records = [base]
        models = graph_models(graph)
        base.model = models[0] if models else None
        base.extra["note"] = "no sampler node recognised in the graph"
    first = records[0]
    first.workflow = {k: v for k, v in (("prompt", api), ("workflow", ui)) if v is not None}
    first.extra["graph_models"] = graph_models(graph)
    first.extra["graph_nodes"] = len(graph)
    if len(samplers) > MAX_SAMPLERS:
        first.extra["samplers_total"] = len(samplers)
    if isinstance(ui, dict) and isinstance(ui.get("extra"), dict):
        first.version = as_text(ui["extra"].get("frontendVersion"))
    for error in (api_error, ui_error):
        if error:
            first.extra.setdefault("errors", []).append(error)
    for p in records:
        _civitai(api, p)
    return records


def _exif_text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip("\0 ") if isinstance(value, str) else None


class ComfyUIParser:
    """ComfyUI graphs from PNG text chunks, WebP/JPEG EXIF tags and JPEG UserComment (Civitai)."""

    family: ClassVar[str] = "comfyui"

    def parse(self, meta: ImageMetadata) -> list[GenerationParams]:
        found: list[GenerationParams] = []
        prompt = meta.text.get("prompt")
        # EasyDiffusion also writes a "prompt" chunk, as plain text: only JSON claims a graph.
        claims = prompt is not None and GRAPH_START.match(prompt) is not None
        workflow = meta.text.get("workflow")
        if claims or workflow is not None:
            found += _records(
                ("png:prompt", prompt) if claims and prompt is not None else None,
                ("png:workflow", workflow) if workflow is not None else None,
            )
        # SaveAnimatedWEBP: prompt in 0x0110, each extra_pnginfo entry from 0x010F downwards.
        tagged: dict[str, Chunk] = {}
        for tag in range(0x0110, 0x00FF, -1):
            text = _exif_text(meta.exif.get(tag))
            head = re.match(r"(prompt|workflow):\s*\{", text or "")
            if text is not None and head and head[1] not in tagged:
                tagged[head[1]] = (f"exif:0x{tag:04X}", text[len(head[1]) + 1 :])
        if tagged:
            found += _records(tagged.get("prompt"), tagged.get("workflow"))
        comment = (meta.user_comment or "").strip()
        if GRAPH_START.match(comment) and '"class_type"' in comment:
            found += _records(("exif:UserComment", comment), None)
        return found
