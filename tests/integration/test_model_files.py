"""Model files found during a scan: identified, hashed in the same read, never unpickled."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from veriscan.pipeline.ingest import ingest
from veriscan.plugins import load_registry
from veriscan.settings import Settings
from veriscan.sources.folder import FolderSource
from veriscan.store.case import Case
from veriscan.store.queries import content_objects, problem_rows

safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="fixtures need safetensors")


def kohya_lora() -> bytes:
    tensors = {
        "lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k.lora_down.weight": np.zeros(
            (4, 768), np.float16
        ),
        "lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k.lora_up.weight": np.zeros(
            (320, 4), np.float16
        ),
        "lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k.alpha": np.ones((), np.float16),
        "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": np.zeros(
            (4, 768), np.float16
        ),
    }
    metadata = {
        "ss_output_name": "coastlines",
        "ss_network_module": "networks.lora",
        "ss_base_model_version": "sd_v1",
        "ss_sd_model_name": "v1-5-pruned-emaonly.safetensors",
        "ss_training_started_at": "1700000000",
        "ss_tag_frequency": json.dumps({"10_coast": {"lighthouse": 8, "sunset": 5}}),
        "ss_dataset_dirs": json.dumps({"10_coast": {"n_repeats": 10, "img_count": 12}}),
    }
    return bytes(safetensors_numpy.save(tensors, metadata=metadata))


def hostile_ckpt(marker: Path) -> bytes:
    """A zip checkpoint whose pickle would run a shell command if anyone unpickled it."""
    payload = b"\x80\x02cos\nsystem\nq\x00X" + struct.pack("<I", len(f"touch {marker}"))
    payload += f"touch {marker}".encode() + b"q\x01\x85q\x02Rq\x03."
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def scan(tmp_path: Path, evidence: Path) -> Case:
    case = Case.init(tmp_path / "case", "t", "t")
    settings = Settings(workers=1)
    src = FolderSource(evidence, settings)
    ev = case.add_evidence("pc", None, "folder", str(evidence))
    ingest(case, ev, src, load_registry(), settings, command="t", executor="inline")
    return case


def test_model_files_are_identified_hashed_and_never_loaded(tmp_path: Path) -> None:
    evidence = tmp_path / "pc"
    (evidence / "models" / "Lora").mkdir(parents=True)
    lora = kohya_lora()
    (evidence / "models" / "Lora" / "coastlines.safetensors").write_bytes(lora)
    marker = tmp_path / "pwned"
    (evidence / "models" / "evil.ckpt").write_bytes(hostile_ckpt(marker))
    case = scan(tmp_path, evidence)
    assert not marker.exists(), "the checkpoint's pickle must never run"

    objs: dict[str, dict[str, Any]] = {}
    for obj in content_objects(case):
        for loc in obj["locations"]:
            objs[loc["locator"]] = obj
    assert not any("!/" in k for k in objs), "a checkpoint zip is not expanded as an archive"

    model = objs["models/Lora/coastlines.safetensors"]["model"]
    assert (model["format"], model["kind"], model["family"]) == ("safetensors", "lora", "sd1")
    header_len = int.from_bytes(lora[:8], "little")
    assert model["hashes"]["sha256"] == hashlib.sha256(lora).hexdigest()
    assert model["hashes"]["autov2"] == hashlib.sha256(lora).hexdigest()[:10]
    assert model["hashes"]["addnet"] == hashlib.sha256(lora[8 + header_len :]).hexdigest()
    leads = model["training"]
    assert leads["output_name"] == "coastlines"
    assert leads["dataset_folders"][0]["name"] == "10_coast"
    assert ["lighthouse", 8] in [list(t) for t in leads["top_tags"]]

    evil = objs["models/evil.ckpt"]["model"]
    assert evil["format"] == "pytorch-zip"
    assert "os.system" in evil["pickle"]["dangerous"]
    codes = {(r["locator"], r["code"]) for r in problem_rows(case)}
    assert any(code == "model-code-execution" for _, code in codes)
