"""Kind/family/derivative from tensor names and shapes, through real safetensors files built here.

Decisive tensors carry their real widths (768/1024/2048 cross-attention context); the rest are tiny,
so each file stays well under a few megabytes.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from veriscan.analyzers.models.classify import FAMILIES, KINDS, classify
from veriscan.analyzers.models.formats import read_safetensors_header, read_torch_zip, sniff_model

Shapes = dict[str, tuple[int, ...]]

DM = "model.diffusion_model."
TO_K = "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
SMALL = (2, 2)

SD1: Shapes = {
    DM + TO_K: (320, 768),
    DM + "input_blocks.0.0.weight": SMALL,
    "cond_stage_model.transformer.text_model.final_layer_norm.weight": (768,),
    "first_stage_model.encoder.down.0.block.0.conv1.weight": SMALL,
}
SD2: Shapes = {
    DM + TO_K: (320, 1024),
    DM + "input_blocks.0.0.weight": SMALL,
    "cond_stage_model.model.ln_final.weight": (1024,),
    "first_stage_model.decoder.up.0.block.0.conv1.weight": SMALL,
}
SDXL: Shapes = {
    DM + "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": (640, 2048),
    DM + "label_emb.0.0.weight": SMALL,
    "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight": (768,),
    "conditioner.embedders.1.model.ln_final.weight": (1280,),
    "first_stage_model.encoder.conv_in.weight": SMALL,
}
SD3: Shapes = {
    DM + "joint_blocks.0.x_block.attn.qkv.weight": SMALL,
    DM + "joint_blocks.0.context_block.attn.qkv.weight": SMALL,
    "text_encoders.clip_l.transformer.text_model.final_layer_norm.weight": (768,),
    "first_stage_model.encoder.conv_in.weight": SMALL,
}
FLUX: Shapes = {
    "double_blocks.0.img_attn.qkv.weight": SMALL,
    "single_blocks.0.linear1.weight": SMALL,
    "img_in.weight": SMALL,
}
KOHYA_SD1_LORA: Shapes = {
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": (
        4,
        768,
    ),
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight": (320, 4),
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha": (),
    "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": (4, 768),
}
KOHYA_SDXL_LORA: Shapes = {
    "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": (4, 2048),
    "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_up.weight": (640, 4),
    "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": (4, 768),
    "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": (4, 1280),
}
LOHA: Shapes = {
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w1_a": (320, 4),
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w1_b": (4, 768),
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha": (),
}
LOKR: Shapes = {
    "lora_unet_down_blocks_0_attentions_0_proj_in.lokr_w1": (4, 4),
    "lora_unet_down_blocks_0_attentions_0_proj_in.lokr_w2": (80, 80),
}
VAE: Shapes = {
    "encoder.down.0.block.0.conv1.weight": SMALL,
    "decoder.up.0.block.0.conv1.weight": SMALL,
    "encoder.conv_out.weight": (8, 4, 1, 1),
}
CONTROLNET: Shapes = {
    "control_model.input_hint_block.0.weight": SMALL,
    "control_model.zero_convs.0.0.weight": SMALL,
    "control_model." + TO_K: (320, 768),
}


def roundtrip(tmp_path: Path, shapes: Shapes, metadata: dict[str, str] | None = None) -> Path:
    path = tmp_path / "model.safetensors"
    tensors = {k: np.zeros(s, dtype=np.float16) for k, s in shapes.items()}
    path.write_bytes(save(tensors, metadata=metadata))
    return path


@pytest.mark.parametrize(
    ("shapes", "metadata", "kind", "family"),
    [
        (SD1, {}, "checkpoint", "sd1"),
        (SD2, {}, "checkpoint", "sd2"),
        (SDXL, {}, "checkpoint", "sdxl"),
        (SD3, {}, "checkpoint", "sd3"),
        (FLUX, {}, "transformer", "flux"),
        (
            {DM + k: s for k, s in FLUX.items()} | {"vae.decoder.conv_in.weight": SMALL},
            {},
            "checkpoint",
            "flux",
        ),
        ({DM + TO_K: (320, 768)}, {}, "unet", "sd1"),
        (
            {"down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": (640, 2048)},
            {},
            "unet",
            "sdxl",
        ),
        (KOHYA_SD1_LORA, {"ss_base_model_version": "sd_v1"}, "lora", "sd1"),
        (KOHYA_SDXL_LORA, {}, "lora", "sdxl"),
        (LOHA, {}, "lycoris-loha", "sd1"),
        (LOKR, {}, "lycoris-lokr", "unknown"),
        (
            LOKR,
            {"modelspec.architecture": "stable-diffusion-xl-v1-base/lycoris"},
            "lycoris-lokr",
            "sdxl",
        ),
        ({"emb_params": (4, 768)}, {}, "embedding", "sd1"),
        ({"emb_params": (2, 1024)}, {}, "embedding", "sd2"),
        ({"clip_l": (2, 768), "clip_g": (2, 1280)}, {}, "embedding", "sdxl"),
        (VAE, {}, "vae", "unknown"),
        (CONTROLNET, {}, "controlnet", "sd1"),
        ({"controlnet_cond_embedding.conv_in.weight": SMALL}, {}, "controlnet", "unknown"),
        (
            {"conv_first.weight": SMALL, "RRDB_trunk.0.RDB1.conv1.weight": SMALL},
            {},
            "upscaler",
            "unknown",
        ),
        (
            {"conv_first.weight": SMALL, "body.0.rdb1.conv1.weight": SMALL},
            {},
            "upscaler",
            "unknown",
        ),
        (
            {"model.0.weight": SMALL, "model.1.sub.0.RDB1.conv1.0.weight": SMALL},
            {},
            "upscaler",
            "unknown",
        ),
        ({"text_model.encoder.layers.0.mlp.fc1.weight": SMALL}, {}, "text-encoder", "unknown"),
        ({"weight": SMALL, "bias": (2,)}, {}, "unknown", "unknown"),
    ],
)
def test_safetensors_files_classify(
    tmp_path: Path, shapes: Shapes, metadata: dict[str, str], kind: str, family: str
) -> None:
    blob = roundtrip(tmp_path, shapes, metadata).read_bytes()
    assert len(blob) < 10 * 1024 * 1024
    assert sniff_model(blob) == "safetensors"
    header = read_safetensors_header(blob, len(blob))
    found = classify(header.shapes(), header.metadata)
    assert (found.kind, found.family) == (kind, family), found.evidence
    assert found.kind in KINDS and found.family in FAMILIES
    assert found.evidence, "every decision explains itself"


def test_evidence_names_the_deciding_shape() -> None:
    found = classify(SD1, {})
    assert any("768" in line and TO_K in line for line in found.evidence)
    assert any("cond_stage_model" in line for line in found.evidence)


def test_conflicting_structure_gives_unknown_family() -> None:
    mixed = {**SD1, "cond_stage_model.model.ln_final.weight": (1024,)}
    found = classify(mixed, {})
    assert found.kind == "checkpoint" and found.family == "unknown"
    assert any("conflict" in line for line in found.evidence)


def test_lora_metadata_contradicting_shapes_gives_unknown() -> None:
    found = classify(KOHYA_SD1_LORA, {"ss_base_model_version": "sdxl_base_v1-0"})
    assert (found.kind, found.family) == ("lora", "unknown")


@pytest.mark.parametrize(
    ("metadata", "family"),
    [
        ({"ss_base_model_version": "sd_v2_768_v"}, "sd2"),
        ({"ss_v2": "True"}, "sd2"),
        ({"ss_v2": "False"}, "unknown"),
        ({"modelspec.architecture": "flux-1-dev/lora"}, "flux"),
        ({"modelspec.architecture": "stable-diffusion-v3-medium/lora"}, "sd3"),
        ({}, "unknown"),
    ],
)
def test_lora_family_from_metadata_when_shapes_are_silent(
    metadata: dict[str, str], family: str
) -> None:
    silent = {"lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight": (4, 320, 3, 3)}
    assert classify(silent, metadata).family == family


def test_peft_and_flux_lora_keys() -> None:
    peft = {"transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight": (4, 3072)}
    assert (classify(peft, {}).kind, classify(peft, {}).family) == ("lora", "flux")
    kohya_flux = {"lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": (4, 3072)}
    assert classify(kohya_flux, {}).family == "flux"


@pytest.mark.parametrize(
    ("metadata", "derivative"),
    [
        ({"ss_sd_model_name": "ponyDiffusionV6XL_v6StartWithThisOne.safetensors"}, "pony"),
        ({"modelspec.title": "Pony Diffusion V6 XL"}, "pony"),
        ({"ss_sd_model_name": "Illustrious-XL-v0.1.safetensors"}, "illustrious"),
        ({"modelspec.title": "ponytail girl"}, None),
        ({"ss_output_name": "ponyDiffusion"}, None),  # the user's own name is not the base model
        ({"ss_sd_model_name": "pony_v6", "modelspec.title": "illustrious"}, None),
    ],
)
def test_derivative_from_metadata(metadata: dict[str, str], derivative: str | None) -> None:
    found = classify(KOHYA_SDXL_LORA, metadata)
    assert found.derivative == derivative
    assert found.family == "sdxl"


def test_hypernetwork_and_textual_inversion_from_pickled_keys() -> None:
    hyper = {"linear.0.weight": None, "linear.0.bias": None, "layer_structure": None}
    assert classify(hyper, {}).kind == "hypernetwork"
    ti = {"string_to_param": None, "string_to_token": None}
    assert (classify(ti, {}).kind, classify(ti, {}).family) == ("embedding", "unknown")


def test_shapes_unknown_falls_back_to_structure_only() -> None:
    keys = dict.fromkeys(SDXL)
    assert classify(keys, {}).family == "sdxl"
    assert classify(dict.fromkeys([DM + TO_K]), {}).family == "unknown"


def _state_dict_zip(shapes: Shapes) -> bytes:
    """A torch.save-style archive whose data.pkl is written opcode by opcode (protocol 2)."""

    def uni(text: str) -> bytes:
        return b"X" + struct.pack("<I", len(text)) + text.encode()

    def glob(module: str, name: str) -> bytes:
        return b"c" + f"{module}\n{name}\n".encode()

    def ints(values: tuple[int, ...]) -> bytes:
        return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"

    items = b""
    for key, shape in shapes.items():
        storage = b"(" + uni("storage") + glob("torch", "HalfStorage") + uni(key) + b"tQ"
        args = b"(" + storage + ints((0,))[1:-1] + ints(shape) + ints(shape) + b"\x89N" + b"t"
        items += uni(key) + glob("torch._utils", "_rebuild_tensor_v2") + args + b"R"
    data = b"\x80\x02" + glob("collections", "OrderedDict") + b")R(" + items + b"u."
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", data)
    return buffer.getvalue()


def test_torch_zip_checkpoint_classifies_from_the_pickle() -> None:
    info = read_torch_zip(_state_dict_zip(SD1))
    assert info.complete and info.suspicious == []
    found = classify(info.shape_map(), {})
    assert (found.kind, found.family) == ("checkpoint", "sd1")


def test_to_json_round_trips() -> None:
    found = classify(SD1, {})
    assert found.to_json() == {
        "kind": "checkpoint",
        "family": "sd1",
        "derivative": None,
        "evidence": found.evidence,
    }
