"""ComfyUI: the node graph is the record of generation, so it is walked, not pattern-matched.

ComfyUI saves two graphs: ``prompt``, the executed API graph (node id -> class_type and inputs, a
link being ``[node_id, output_index]``), and ``workflow``, the editor's graph (positional widget
values, links in a table). Only the API graph says what actually ran, so parameters are read from it
by following each sampler's links; the editor graph is converted to the same shape when it is all a
file has. Custom nodes rename everything, so the walk keys on input names (``model``, ``positive``,
``ckpt_name``...) rather than on a closed list of node classes, and every model file named anywhere
in the graph is kept too, so that none escapes the report. One record is returned per sampler: a
refiner or hires pass can use another model, seed and prompt than the base pass.

The value coercions at the top are shared by the other generator parsers.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from veriscan.analyzers.provenance.base import (
    JSON,
    MAX_GRAPH_NODES,
    MAX_TEXT_BYTES,
    GenerationParams,
    ImageMetadata,
    Lora,
    ProvenanceError,
    load_json,
)


def as_int(value: Any) -> int | None:
    """An integer from JSON that may hold it as a number, an integral float or a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and len(value) < 64:
        if re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
        number = as_float(value)
        return int(number) if number is not None and number.is_integer() else None
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and len(value) < 64:
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_text(value: Any) -> str | None:
    """A non-empty string; tools write "None" or "" for an unset field."""
    if isinstance(value, str):
        text = value.strip()
        return text if text and text != "None" else None
    return None


def json_text(text: str, what: str) -> JSON:
    """load_json, refusing text cut at the reader's size limit without scanning all of it."""
    if len(text) >= MAX_TEXT_BYTES:
        raise ProvenanceError(f"{what}: {len(text)} characters, at the size limit (truncated)")
    return load_json(text, what)


T = TypeVar("T")
Node = dict[str, Any]
Graph = dict[str, Node]

MAX_SAMPLERS = 64
MAX_LORAS = 256  # per record: real generations use a handful; raw keeps the rest
MAX_VISITS = 50_000
MODEL_KEYS = ("ckpt_name", "unet_name", "model_name", "model_path", "gguf_name", "base_ckpt_name")
MODEL_FILE = re.compile(r"\.(safetensors|ckpt|pt|pth|bin|gguf|sft|onnx)$|^urn:air:", re.I)
ENCODER_KEYS = (
    *("text", "populated_text", "t5xxl", "text_g", "clip_l", "clip_g", "text_l", "prompt"),
    *("mt5xl", "bert"),
)
TEXT_KEYS = ("populated_text", "text", "string", "value", "prompt", "wildcard_text", "Text")
TEXT_HINTS = ("text", "prompt", "string", "negative", "positive", "caption")
SCALAR_KEYS = ("value", "seed", "noise_seed", "int", "float", "number", "Number", "INT", "FLOAT")
_PLUMBING = ("clip", "vae", "model", "mask", "noise", "sigmas", "sampler", "guider", "control_net")
NOT_CONDITIONING = frozenset(
    (*_PLUMBING, "image", "images", "pixels", "samples", "latent", "latent_image", "clip_vision")
)
NOT_CONDITIONING |= frozenset(("clip_vision_output", "style_model", "upscale_model"))
NOT_LATENT = frozenset((*_PLUMBING, "positive", "negative"))
EMBEDDING = re.compile(r"embedding:([^\s,()\[\]<>:]+(?::[^\s,()\[\]<>:]+)*)")
MUTED = (2, 4)
GRAPH_START = re.compile(r'\s*\{\s*"')


def link(value: Any) -> tuple[str, int] | None:
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and not isinstance(value[0], bool)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    ):
        return str(value[0]), value[1]
    return None


def is_sampler(node: Node) -> bool:
    ins = node["inputs"]
    if node.get("mode") in MUTED:
        return False
    signs = ("seed", "noise_seed", "steps", "noise", "sigmas", "latent_image")
    if ("positive" in ins or "guider" in ins) and any(k in ins for k in signs):
        return True
    return "sampler" in node["class_type"].lower() and ("seed" in ins or "steps" in ins)


class _Walk:
    """Link-following over one graph.

    Every walk keeps a visited set, so cycles end, and all walks share one budget of node visits,
    so a hostile graph (thousands of samplers each reaching every node) costs bounded time; what
    the budget cut short is flagged on the records. Walks from the same link are done once.
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.budget = MAX_VISITS
        self.cache: dict[tuple[str, str, int], Any] = {}
        self.encoders = {nid for nid, node in graph.items() if _is_encoder(node)}
        self.consumers: dict[str, list[str]] = {}
        for nid, node in graph.items():
            for val in node["inputs"].values():
                if (ref := link(val)) is not None:
                    self.consumers.setdefault(ref[0], []).append(nid)

    def spend(self) -> bool:
        self.budget -= 1
        return self.budget >= 0

    def cached(self, kind: str, value: Any, walk: Callable[[Any], T]) -> T:
        ref = link(value)
        if ref is None:
            return walk(value)
        if (kind, *ref) not in self.cache:
            self.cache[(kind, *ref)] = walk(value)
        result: T = self.cache[(kind, *ref)]
        return result

    def node(self, value: Any) -> tuple[str, int, Node] | None:
        ref = link(value)
        if ref is None or ref[0] not in self.graph:
            return None
        return ref[0], ref[1], self.graph[ref[0]]

    def scalar(self, value: Any, names: tuple[str, ...]) -> Any:
        """A literal, or the literal a link leads to through primitive, seed and reroute nodes."""
        seen: set[str] = set()
        while (hop := self.node(value)) is not None and self.spend():
            if hop[0] in seen:
                return None
            seen.add(hop[0])
            ins = hop[2]["inputs"]
            key = next((k for k in (*names, *SCALAR_KEYS) if k in ins), None)
            if key is None:
                # An unknown node: its one number (a seed widget beside "randomize") or one input.
                numbers = [k for k, v in ins.items() if as_float(v) is not None and not link(v)]
                key = (
                    numbers[0] if len(numbers) == 1 else next(iter(ins)) if len(ins) == 1 else None
                )
            if key is None:
                return None
            value = ins[key]
        return value

    def text(self, value: Any) -> str | None:
        """The string a text input holds or is linked to, through string and wildcard nodes."""
        seen: set[str] = set()
        while not isinstance(value, str):
            hop = self.node(value)
            if hop is None or hop[0] in seen or not self.spend():
                return None
            seen.add(hop[0])
            ins = hop[2]["inputs"]
            keys = [k for k in TEXT_KEYS if k in ins]
            keys += [k for k in ins if any(h in k.lower() for h in TEXT_HINTS) and k not in keys]
            filled = [k for k in keys if isinstance(ins[k], str) and ins[k].strip()]
            linked = [k for k in keys if link(ins[k])]
            if not keys:
                # An unknown node (editor widgets are unnamed): its longest string or its one link.
                strings = [v for v in ins.values() if isinstance(v, str) and v.strip()]
                if strings:
                    return max(strings, key=len)
                linked = [k for k, v in ins.items() if link(v)][:1] if len(ins) == 1 else []
            if filled:
                return str(ins[filled[0]])
            if not linked:
                return None
            value = ins[linked[0]]
        return value if value.strip() else None

    def param(self, ins: dict[str, Any], names: tuple[str, ...], via: str) -> tuple[Any, str]:
        """A sampler setting, read from the sampler or from the node its ``via`` input links to.

        Returns (value, where); ``where`` names the node holding a setting that could not be
        resolved to a literal (a math or custom node), so the report can say where to look.
        """
        holders: list[tuple[str, dict[str, Any]]] = [("", ins)]
        hop = self.node(ins.get(via))
        if hop is not None:
            holders.append((f"{hop[2]['class_type']} node {hop[0]}", hop[2]["inputs"]))
        for where, holder in holders:
            for name in (n for n in names if n in holder):
                value = self.scalar(holder[name], names)
                origin = self.node(holder[name])
                if value is None and origin is not None:
                    where = f"{origin[2]['class_type']} node {origin[0]}"
                return value, where
        return None, ""

    def conditioning(self, value: Any) -> tuple[list[str], list[str], float | None]:
        """Prompt texts, ControlNets and Flux guidance upstream of one conditioning input.

        A node with both ``positive`` and ``negative`` inputs (ControlNet apply, InstructPix2Pix
        and inpaint conditioning) passes output 0 from its positive and output 1 from its negative
        input, so the link's output index says which side to follow.
        """
        texts: list[str] = []
        controlnets: list[str] = []
        guidance: float | None = None
        stack = [value]
        seen: set[str] = set()
        while stack and self.spend():
            hop = self.node(stack.pop())
            if hop is None or hop[0] in seen or is_sampler(hop[2]):
                continue
            nid, index, node = hop
            seen.add(nid)
            ins = node["inputs"]
            if guidance is None and "guidance" in ins:
                guidance = as_float(self.scalar(ins["guidance"], ("guidance",)))
            if "control_net" in ins:
                controlnets += self._controlnet(ins["control_net"])
            if "zeroout" in node["class_type"].lower():
                continue
            if nid in self.encoders:
                for key in ENCODER_KEYS:
                    text = as_text(self.text(ins[key])) if key in ins else None
                    if text is not None and text not in texts:
                        texts.append(text)
                continue
            if "positive" in ins and "negative" in ins:
                side = {0: "positive", 1: "negative"}.get(index)
                follow = [ins[side]] if side else []
            else:
                follow = [v for k, v in ins.items() if k not in NOT_CONDITIONING and link(v)]
            stack += reversed(follow)
        return texts, controlnets, guidance

    def _controlnet(self, value: Any) -> list[str]:
        seen: set[str] = set()
        while (hop := self.node(value)) is not None and hop[0] not in seen and self.spend():
            seen.add(hop[0])
            ins = hop[2]["inputs"]
            name = as_text(ins.get("control_net_name")) or as_text(ins.get("model_name"))
            if name:
                return [name]
            value = ins.get("control_net")
        return []

    def model(self, value: Any) -> tuple[list[str], list[Lora], dict[str, float | None]]:
        """Checkpoints, LoRAs and other patches (hypernetworks...) along one model input."""
        models: list[str] = []
        loras: list[Lora] = []
        patches: dict[str, float | None] = {}
        stack = [value]
        seen: set[str] = set()
        while stack and self.spend():
            hop = self.node(stack.pop())
            if hop is None or hop[0] in seen:
                continue
            seen.add(hop[0])
            node = hop[2]
            ins = node["inputs"]
            if node.get("mode") not in MUTED:
                models += [n for k in MODEL_KEYS if (n := as_text(ins.get(k))) and n not in models]
                if isinstance(ins.get("model"), str) and (name := as_text(ins["model"])):
                    models.append(name)
                loras += self._loras(ins)
                for key, val in ins.items():
                    name = as_text(val)
                    plain = "lora" not in key and key != "model" and key not in MODEL_KEYS
                    if name and plain and MODEL_FILE.search(name):
                        patches[name] = as_float(self.scalar(ins.get("strength"), ("strength",)))
            follow = [
                v for k, v in ins.items() if link(v) and (k.startswith("model") or "lora" in k)
            ]
            links = [v for v in ins.values() if link(v)]
            stack += reversed(follow or (links if len(links) == 1 else []))
        return models, loras, patches

    def _loras(self, ins: dict[str, Any]) -> list[Lora]:
        found: list[Lora] = []
        name = as_text(self.text(ins.get("lora_name")))
        if name:
            weight = next(
                (ins[k] for k in ("strength_model", "strength", "weight") if k in ins), None
            )
            found.append(Lora(name, as_float(self.scalar(weight, ("strength_model",)))))
        for key, val in ins.items():
            if isinstance(val, dict) and as_text(val.get("lora")) and val.get("on") is not False:
                found.append(Lora(val["lora"], as_float(val.get("strength"))))
            stacked = re.fullmatch(r"lora_name_(\d+)", key)
            if stacked and (name := as_text(val)) and ins.get(f"switch_{stacked[1]}") != "Off":
                n = stacked[1]
                weight = next(
                    (
                        ins[k]
                        for k in (f"model_weight_{n}", f"lora_wt_{n}", f"model_str_{n}")
                        if k in ins
                    ),
                    ins.get(f"strength_{n}"),
                )
                found.append(Lora(name, as_float(weight)))
        return found

    def size(self, value: Any) -> tuple[int | None, int | None]:
        """The nearest width and height upstream of the latent (empty latent, upscale, resize)."""
        queue = deque([value])
        seen: set[str] = set()
        while queue and self.spend():
            hop = self.node(queue.popleft())
            if hop is None or hop[0] in seen:
                continue
            seen.add(hop[0])
            ins = hop[2]["inputs"]
            width = as_int(self.scalar(ins.get("width"), ("width",)))
            height = as_int(self.scalar(ins.get("height"), ("height",)))
            if width and height and width > 0 and height > 0:
                return width, height
            queue += [v for k, v in ins.items() if k not in NOT_LATENT and link(v)]
        return None, None

    def vae(self, sampler_id: str) -> str | None:
        """The VAE named by the first decoder downstream of a sampler (None: the checkpoint's)."""
        queue = deque([sampler_id])
        seen = {sampler_id}
        while queue and self.spend():
            for nid in self.consumers.get(queue.popleft(), []):
                if nid in seen:
                    continue
                seen.add(nid)
                ins = self.graph[nid]["inputs"]
                if "vae" in ins and "samples" in ins:
                    hop = self.node(ins["vae"])
                    return as_text(hop[2]["inputs"].get("vae_name")) if hop else None
                queue.append(nid)
        return None


def _is_encoder(node: Node) -> bool:
    kind = re.sub(r"[\s_]", "", node["class_type"]).lower()
    ins = node["inputs"]
    return "textencode" in kind or ("clip" in ins and any(k in ins for k in ENCODER_KEYS))


def _sampler_record(walk: _Walk, nid: str, base: GenerationParams) -> GenerationParams:
    node = walk.graph[nid]
    ins = node["inputs"]
    p = GenerationParams(generator=base.generator, source=base.source, raw=base.raw)
    p.extra = {"sampler_node": nid, "sampler_class": node["class_type"]}
    unresolved: dict[str, str] = {}

    def setting(field: str, names: tuple[str, ...], via: str) -> Any:
        value, where = walk.param(ins, names, via)
        if value is None and where:
            unresolved[field] = where
        return value

    p.seed = as_int(setting("seed", ("seed", "noise_seed"), "noise"))
    p.steps = as_int(setting("steps", ("steps",), "sigmas"))
    p.cfg = as_float(setting("cfg", ("cfg", "cfg_scale", "guidance_scale"), "guider"))
    p.sampler = as_text(setting("sampler", ("sampler_name",), "sampler"))
    p.scheduler = as_text(setting("scheduler", ("scheduler",), "sigmas"))
    for field, via in (("sampler", "sampler"), ("scheduler", "sigmas")):
        hop = walk.node(ins.get(via))
        if getattr(p, field) is None and hop is not None:
            setattr(p, field, hop[2]["class_type"])
    denoise = as_float(setting("denoise", ("denoise",), "sigmas"))
    if denoise is not None:
        p.extra["denoise"] = denoise
    guider = walk.node(ins.get("guider"))
    gins = guider[2]["inputs"] if guider else {}
    model_in = ins.get("model", gins.get("model"))
    models, loras, patches = walk.cached("model", model_in, walk.model)
    p.loras = list(loras)
    p.model = models[0] if models else None
    if len(models) > 1:
        p.extra["models"] = models
    if patches:
        p.extra["patches"] = dict(patches)
    positive = ins.get("positive", gins.get("positive", gins.get("conditioning")))
    negative = ins.get("negative", gins.get("negative"))
    pos, cn_pos, guidance = walk.cached("conditioning", positive, walk.conditioning)
    neg, cn_neg, _ = walk.cached("conditioning", negative, walk.conditioning)
    p.prompt = "\n".join(pos) or None
    p.negative_prompt = "\n".join(neg) or None
    p.controlnets = list(dict.fromkeys(cn_pos + cn_neg))
    p.embeddings = list(
        dict.fromkeys(EMBEDDING.findall(f"{p.prompt or ''}\n{p.negative_prompt or ''}"))
    )
    if guidance is not None:
        p.extra["guidance"] = guidance
    latent = ins.get("latent_image", ins.get("latent", ins.get("samples")))
    p.width, p.height = walk.cached("size", latent, walk.size)
    p.vae = walk.vae(nid)
    if unresolved:
        p.extra["unresolved"] = unresolved
    if walk.budget < 0:
        p.extra["walk_truncated"] = f"stopped after {MAX_VISITS} node visits"
    return p


def graph_models(graph: Graph) -> list[str]:
    """Every model file named anywhere in the graph, used or not: nothing may escape the report."""
    found: dict[str, None] = {}
    for node in graph.values():
        for key, val in node["inputs"].items():
            if isinstance(val, str) and (key in MODEL_KEYS or re.search(r"_name\d*$", key)):
                if MODEL_FILE.search(val.strip()):
                    found[val.strip()] = None
            elif isinstance(val, dict) and isinstance(val.get("lora"), str):
                found[val["lora"]] = None
    return list(found)


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
    walk = _Walk(graph)
    samplers = sorted(
        (nid for nid, node in graph.items() if is_sampler(node)),
        key=lambda nid: (0, int(nid), "") if nid.isdigit() else (1, 0, nid),
    )
    records = [_sampler_record(walk, nid, base) for nid in samplers[:MAX_SAMPLERS]]
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
