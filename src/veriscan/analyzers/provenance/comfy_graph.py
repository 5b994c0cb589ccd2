"""The ComfyUI graph walker: link-following from each sampler to its settings, model and prompts.

Graphs arrive in API shape (node id -> class_type and inputs, a link being ``[node_id,
output_index]``). Custom nodes rename everything, so the walk keys on input names (``model``,
``positive``, ``ckpt_name``...) rather than on a closed list of node classes, and every model file
named anywhere in the graph is kept too, so that none escapes the report.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from veriscan.analyzers.provenance.base import GenerationParams, Lora
from veriscan.analyzers.provenance.values import as_float, as_int, as_text

T = TypeVar("T")
Node = dict[str, Any]
Graph = dict[str, Node]

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


class Walk:
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


def sampler_record(walk: Walk, nid: str, base: GenerationParams) -> GenerationParams:
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
