"""What a model file is (kind) and which base model it belongs to (family), from its tensors.

File names and extensions on seized media are routinely changed, so identification rests on the
state-dict layout every trainer and converter reproduces. Each rule records the keys or shapes that
fired it in ``evidence``; a family is named only when all the evidence agrees, because a wrong
family in a report is worse than "unknown".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = frozenset(
    {"checkpoint", "unet", "transformer", "lora", "lycoris-loha", "lycoris-lokr", "embedding"}
    | {"hypernetwork", "vae", "controlnet", "upscaler", "text-encoder", "unknown"}
)
FAMILIES = frozenset({"sd1", "sd2", "sdxl", "sd3", "flux", "unknown"})

# Cross-attention context width: the text encoder the UNet was trained against.
_CONTEXT_FAMILY = {768: "sd1", 1024: "sd2", 2048: "sdxl", 1280: "sdxl"}
_DIFFUSION = "model.diffusion_model."
_UNET_BLOCKS = ("input_blocks.", "middle_block.", "output_blocks.")
_DIFFUSERS_UNET = ("down_blocks.", "mid_block.", "up_blocks.")
_LORA_SUFFIX = re.compile(r"[._](?:lora_down|lora_up|lora_A|lora_B|lora\.down|lora\.up)\.weight$")
_DERIVATIVE_KEYS = (
    "modelspec.title",
    "modelspec.architecture",
    "ss_sd_model_name",
    "ss_base_model_version",
)
_DOWN = ("lora_down.weight", "lora_A.weight", "hada_w1_b", "hada_w2_b")
_PONY = re.compile(r"pony(?:diffusion|[ _-]?v\d|xl|[^a-z]|$)")


@dataclass
class Classification:
    kind: str
    family: str
    derivative: str | None = None
    evidence: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "family": self.family,
            "derivative": self.derivative,
            "evidence": self.evidence,
        }


class _Votes:
    """Family claims with their reasons; more than one distinct claim means "unknown"."""

    def __init__(self) -> None:
        self.claims: dict[str, list[str]] = {}

    def add(self, family: str, reason: str) -> None:
        reasons = self.claims.setdefault(family, [])
        if reason not in reasons and len(reasons) < 4:
            reasons.append(reason)

    def decide(self, evidence: list[str]) -> str:
        for family, reasons in self.claims.items():
            evidence.extend(f"{family}: {r}" for r in reasons)
        if len(self.claims) == 1:
            return next(iter(self.claims))
        if len(self.claims) > 1:
            evidence.append("family evidence conflicts: " + ", ".join(sorted(self.claims)))
        return "unknown"


def classify(
    keys: Mapping[str, tuple[int, ...] | None], metadata: Mapping[str, str]
) -> Classification:
    evidence: list[str] = []
    votes = _Votes()
    kind = _kind(keys, votes, evidence)
    if kind in ("lora", "lycoris-loha", "lycoris-lokr"):
        _metadata_family(metadata, votes)
    family = votes.decide(evidence)
    derivative = _derivative(metadata, evidence)
    return Classification(kind, family, derivative, evidence)


def _first(keys: Iterable[str], test: Callable[[str], bool]) -> str | None:
    return next((k for k in keys if test(k)), None)


def _kind(keys: Mapping[str, tuple[int, ...] | None], votes: _Votes, evidence: list[str]) -> str:
    names = list(keys)
    for marker, kind in (("hada_w1_a", "lycoris-loha"), ("lokr_w1", "lycoris-lokr")):
        hit = next((k for k in names if marker in k), None)
        if hit is not None:
            evidence.append(f"LyCORIS key {hit}")
            _adapter_family(keys, votes)
            return kind
    hit = _first(names, lambda k: _LORA_SUFFIX.search(k) is not None)
    if hit is not None:
        evidence.append(f"LoRA key {hit}")
        _adapter_family(keys, votes)
        return "lora"
    if _embedding(keys, votes, evidence):
        return "embedding"
    hit = _first(names, lambda k: k in ("layer_structure", "activation_func"))
    if hit is not None or (names and all(re.fullmatch(r"linear\.\d+\.\w+", k) for k in names)):
        evidence.append(f"hypernetwork key {hit or names[0]}")
        return "hypernetwork"
    hit = _first(
        names,
        lambda k: (
            k.startswith(("control_model.", "controlnet_"))
            or "zero_convs." in k
            or "input_hint_block." in k
        ),
    )
    if hit is not None:
        evidence.append(f"ControlNet key {hit}")
        _context_family(keys, votes)
        return "controlnet"
    diffusion = _diffusion_kind(keys, votes, evidence)
    if diffusion is not None:
        return diffusion
    return _other_kind(keys, votes, evidence)


def _embedding(
    keys: Mapping[str, tuple[int, ...] | None], votes: _Votes, evidence: list[str]
) -> bool:
    names = set(keys)
    if "clip_l" in names and "clip_g" in names:
        evidence.append("embedding keys clip_l + clip_g")
        votes.add("sdxl", "separate CLIP-L and CLIP-G vectors")
        return True
    hit = _first(names, lambda k: k == "emb_params" or k.split(".")[0] == "string_to_param")
    if hit is None:
        return False
    evidence.append(f"embedding key {hit}")
    for name, shape in keys.items():
        if shape and len(shape) == 2 and shape[-1] in (768, 1024):
            votes.add(_CONTEXT_FAMILY[shape[-1]], f"{name} vector width {shape[-1]}")
    return True


def _context_family(keys: Mapping[str, tuple[int, ...] | None], votes: _Votes) -> None:
    for name, shape in keys.items():
        if name.endswith("attn2.to_k.weight") and shape and len(shape) == 2:
            family = _CONTEXT_FAMILY.get(shape[1])
            if family is not None:
                votes.add(family, f"cross-attention context {shape[1]} ({name} {list(shape)})")


def _diffusion_kind(
    keys: Mapping[str, tuple[int, ...] | None], votes: _Votes, evidence: list[str]
) -> str | None:
    names = list(keys)
    bare = [k.removeprefix(_DIFFUSION) for k in names]
    prefixed = _first(names, lambda k: k.startswith(_DIFFUSION))
    if _first(bare, lambda k: k.startswith("joint_blocks.")) is not None:
        votes.add("sd3", "MMDiT joint_blocks")
        body = "transformer"
    elif (
        _first(bare, lambda k: k.startswith("double_blocks.")) is not None
        and _first(bare, lambda k: k.startswith("single_blocks.")) is not None
    ) or _first(names, lambda k: k.startswith("single_transformer_blocks.")) is not None:
        votes.add("flux", "double_blocks/single_blocks transformer")
        body = "transformer"
    elif _first(bare, lambda k: k.startswith(_UNET_BLOCKS + _DIFFUSERS_UNET)) is not None:
        body = "unet"
        _context_family(keys, votes)
        if _first(bare, lambda k: k.startswith(("label_emb.", "add_embedding."))) is not None:
            evidence.append("class/size embedding present (label_emb), as in SDXL and SD2 unCLIP")
    else:
        return None
    evidence.append(f"{body} keys{' under ' + _DIFFUSION if prefixed else ''}")
    encoders = (
        ("cond_stage_model.transformer.", "sd1", "CLIP ViT-L text encoder (cond_stage_model)"),
        ("cond_stage_model.model.", "sd2", "OpenCLIP text encoder (cond_stage_model.model)"),
        ("conditioner.embedders.1.model.", "sdxl", "two text encoders (conditioner.embedders)"),
    )
    with_text = False
    for prefix, family, reason in encoders:
        if any(k.startswith(prefix) for k in names):
            votes.add(family, reason)
            with_text = True
    extras = ("text_encoders.", "conditioner.", "first_stage_model.", "vae.", "cond_stage_model.")
    bundled = with_text or _first(names, lambda k: k.startswith(extras)) is not None
    if prefixed is not None and bundled:
        evidence.append("bundles text encoder and/or VAE")
        return "checkpoint"
    return body


def _other_kind(
    keys: Mapping[str, tuple[int, ...] | None], votes: _Votes, evidence: list[str]
) -> str:
    names = list(keys)
    down = _first(names, lambda k: k.startswith(("encoder.down.", "encoder.down_blocks.")))
    up = _first(names, lambda k: k.startswith(("decoder.up.", "decoder.up_blocks.")))
    if down is not None and up is not None:
        evidence.append(f"VAE encoder/decoder keys {down}, {up}")
        shape = keys.get("encoder.conv_out.weight")
        if shape:
            evidence.append(f"latent channels {shape[0] // 2} (shared by several families)")
        return "vae"
    upscaler = _first(
        names,
        lambda k: (
            k.startswith(("RRDB_trunk.", "model.1.sub."))
            or re.match(r"body\.\d+\.rdb1\.", k) is not None
        ),
    )
    if upscaler is not None or ("conv_first.weight" in keys and "conv_last.weight" in keys):
        evidence.append(f"ESRGAN-style upscaler key {upscaler or 'conv_first.weight'}")
        return "upscaler"
    hit = _first(
        names, lambda k: "text_model.encoder.layers." in k or k.startswith("encoder.block.")
    )
    if hit is not None:
        evidence.append(f"text encoder key {hit}")
        for name, shape in keys.items():
            if name.endswith("token_embedding.weight") and shape and shape[-1] == 1024:
                votes.add("sd2", f"OpenCLIP ViT-H width 1024 ({name})")
        return "text-encoder"
    evidence.append(f"no known model key pattern among {len(names)} tensors")
    return "unknown"


def _adapter_family(keys: Mapping[str, tuple[int, ...] | None], votes: _Votes) -> None:
    """Adapters name the blocks they patch, and their down-projections the context width."""
    for name, shape in keys.items():
        if name.startswith(("lora_te1_", "lora_te2_")):
            votes.add("sdxl", f"two text encoders ({name.split('.')[0][:40]}...)")
        elif "double_blocks" in name or "single_blocks" in name or "single_transformer" in name:
            votes.add("flux", "patches Flux double/single blocks")
        elif "joint_blocks" in name:
            votes.add("sd3", "patches SD3 joint_blocks")
        if (
            shape
            and len(shape) == 2
            and "attn2" in name
            and "to_k" in name
            and name.endswith(_DOWN)
        ):
            family = _CONTEXT_FAMILY.get(shape[1])
            if family is not None:
                votes.add(family, f"cross-attention context {shape[1]} ({name})")


def _metadata_family(metadata: Mapping[str, str], votes: _Votes) -> None:
    """Trainer metadata is a claim, but a kohya-written one; structure can still contradict it."""
    version = metadata.get("ss_base_model_version", "").lower()
    arch = metadata.get("modelspec.architecture", "").lower()
    for text, source in ((version, "ss_base_model_version"), (arch, "modelspec.architecture")):
        family = _named_family(text)
        if family is not None:
            votes.add(family, f"metadata {source}={text[:60]}")
    if not version and metadata.get("ss_v2", "").lower() == "true":
        votes.add("sd2", "metadata ss_v2=True")


def _named_family(text: str) -> str | None:
    checks = (
        (("sdxl", "stable-diffusion-xl"), "sdxl"),
        (("sd3", "stable-diffusion-v3", "stable-diffusion-3"), "sd3"),
        (("flux",), "flux"),
        (("sd_v2", "stable-diffusion-v2"), "sd2"),
        (("sd_v1", "stable-diffusion-v1"), "sd1"),
    )
    for needles, family in checks:
        if any(n in text for n in needles):
            return family
    return None


def _derivative(metadata: Mapping[str, str], evidence: list[str]) -> str | None:
    found: dict[str, str] = {}
    for key in _DERIVATIVE_KEYS:
        text = metadata.get(key, "").lower()
        if _PONY.search(text):
            found.setdefault("pony", key)
        if "illustrious" in text:
            found.setdefault("illustrious", key)
    if len(found) == 1:
        name, key = next(iter(found.items()))
        evidence.append(f"derivative {name} named in metadata {key}")
        return name
    if found:
        evidence.append("metadata names several derivatives: " + ", ".join(sorted(found)))
    return None
