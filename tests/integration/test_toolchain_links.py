"""Images on one device linked to the model files on another, by hash first and by name second."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from veriscan.pipeline.ingest import ingest
from veriscan.plugins import load_registry
from veriscan.settings import Settings
from veriscan.sources.folder import FolderSource
from veriscan.store.case import Case
from veriscan.store.queries import content_objects
from veriscan.toolchain.summary import toolchain_summary

st = pytest.importorskip("safetensors.numpy", reason="fixtures need safetensors")


def checkpoint() -> bytes:
    tensors = {
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": np.zeros(
            (320, 768), np.float16
        ),
        "cond_stage_model.transformer.text_model.embeddings.position_ids": np.zeros(
            (1, 77), np.int64
        ),
        "first_stage_model.decoder.conv_in.weight": np.zeros((4, 4, 3, 3), np.float16),
    }
    return bytes(st.save(tensors, metadata={"format": "pt"}))


def lora(base_sha256: str) -> bytes:
    key = "lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k"
    tensors = {
        f"{key}.lora_down.weight": np.ones((4, 768), np.float16),
        f"{key}.lora_up.weight": np.ones((320, 4), np.float16),
        f"{key}.alpha": np.ones((), np.float16),
    }
    metadata = {
        "ss_output_name": "harbourStyle",
        "ss_v2": "False",
        "ss_sd_model_name": "harbourMix_v2.safetensors",
        "ss_new_sd_model_hash": base_sha256,
    }
    return bytes(st.save(tensors, metadata=metadata))


def png(text: dict[str, str]) -> bytes:
    info = PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    buf = io.BytesIO()
    Image.new("RGB", (512, 512), (40, 90, 160)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def test_images_link_to_models_across_devices(tmp_path: Path) -> None:
    ckpt = checkpoint()
    lo = lora(hashlib.sha256(ckpt).hexdigest())
    autov2 = hashlib.sha256(ckpt).hexdigest()[:10]
    n = int.from_bytes(lo[:8], "little")
    addnet12 = hashlib.sha256(lo[8 + n :]).hexdigest()[:12]

    laptop = tmp_path / "laptop"
    (laptop / "webui" / "models" / "Stable-diffusion").mkdir(parents=True)
    (laptop / "webui" / "models" / "Lora").mkdir(parents=True)
    (laptop / "webui" / "models" / "Stable-diffusion" / "harbourMix_v2.safetensors").write_bytes(
        ckpt
    )
    (laptop / "webui" / "models" / "Lora" / "harbour_style.safetensors").write_bytes(lo)
    (laptop / "webui" / "modules").mkdir()
    (laptop / "webui" / "webui.py").write_text("import modules\n")
    (laptop / "webui" / "modules" / "sd_models.py").write_text("def model_hash(): ...\n")
    (laptop / "webui" / "styles.csv").write_text("name,prompt\nharbour,a harbour\n")
    out = laptop / "webui" / "outputs" / "txt2img-images" / "2024-05-01"
    out.mkdir(parents=True)
    (out / "00001-5.png").write_bytes(png({}))

    phone = tmp_path / "phone"
    phone.mkdir()
    infotext = (
        "a harbour at dawn <lora:harbour_style:0.8>\nNegative prompt: blurry\n"
        f"Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x512, "
        f"Model hash: {autov2.upper()}, Model: harbourMix_v2, "
        f'Lora hashes: "harbour_style: {addnet12}"'
    )
    (phone / "by_hash.png").write_bytes(png({"parameters": infotext}))
    graph = {
        "1": {
            "class_type": "CheckpointLoaderSimple",
            "inputs": {"ckpt_name": "harbourMix_v2.safetensors"},
        },
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "boats", "clip": ["1", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
        "4": {
            "class_type": "KSampler",
            "inputs": {
                "seed": 1,
                "steps": 10,
                "cfg": 6,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1,
                "model": ["1", 0],
                "positive": ["2", 0],
                "negative": ["3", 0],
                "latent_image": ["5", 0],
            },
        },
        "5": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 512, "height": 512, "batch_size": 1},
        },
    }
    (phone / "by_name.png").write_bytes(png({"prompt": json.dumps(graph)}))

    case = Case.init(tmp_path / "case", "t", "t")
    settings = Settings(workers=1)
    registry = load_registry()
    for label, root in (("laptop", laptop), ("phone", phone)):
        ev = case.add_evidence(label, None, "folder", str(root))
        ingest(
            case,
            ev,
            FolderSource(root, settings),
            registry,
            settings,
            command="t",
            executor="inline",
        )

    objs: dict[str, dict[str, Any]] = {}
    for obj in content_objects(case):
        for loc in obj["locations"]:
            objs[loc["locator"]] = obj
    ckpt_sha = hashlib.sha256(ckpt).hexdigest()
    lora_sha = hashlib.sha256(lo).hexdigest()
    by_hash = {
        (p["sha256"], p["role"], p["strength"]) for p in objs["by_hash.png"]["produced_with"]
    }
    assert (ckpt_sha, "checkpoint", "hash") in by_hash
    assert (lora_sha, "lora", "hash") in by_hash
    by_name = {
        (p["sha256"], p["role"], p["strength"]) for p in objs["by_name.png"]["produced_with"]
    }
    assert by_name == {(ckpt_sha, "checkpoint", "name")}

    trained = objs["webui/models/Lora/harbour_style.safetensors"]["produced_with"]
    assert [(p["sha256"], p["role"], p["strength"]) for p in trained] == [
        (ckpt_sha, "base-model", "hash")
    ], "the LoRA's training base model is on the same laptop"

    summary = toolchain_summary(case)
    cross = {
        (r["image_evidence"], r["image"], r["model_evidence"]) for r in summary["cross_device"]
    }
    assert ("phone", "by_hash.png", "laptop") in cross
    kinds = {m["kind"] for m in summary["items"]["laptop"]["models"]}
    assert kinds == {"checkpoint", "lora"}
    (install,) = summary["items"]["laptop"]["installs"]
    assert (install["app"], install["root"]) == ("automatic1111", "webui")
    assert install["styles"] == ["webui/styles.csv"]
    assert [(o["folder"], o["images"]) for o in install["outputs"]] == [
        ("webui/outputs/txt2img-images/2024-05-01", 1)
    ]
    assert not summary["items"].get("phone", {}).get("installs")
