"""Training leads from kohya-ss metadata, read back from a LoRA file written here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from veriscan.analyzers.models.classify import classify
from veriscan.analyzers.models.formats import read_safetensors_header
from veriscan.analyzers.models.training import MAX_JSON_CHARS, training_leads

TAG_FREQUENCY = {
    "10_lighthouse": {"lighthouse": 12, " coast": 9, "sunset": 4, "sky": 9},
    "5_harbour": {"coast": 3, "boat": 5, "lighthouse": 1},
}
DATASET_DIRS = {
    "10_lighthouse": {"n_repeats": 10, "img_count": 12},
    "5_harbour": {"n_repeats": 5, "img_count": 6},
}
KOHYA = {
    "ss_output_name": "lighthouse_style",
    "ss_session_id": "1234567890",
    "ss_training_started_at": "1700000000.5",
    "ss_training_finished_at": "1700003600",
    "ss_sd_model_name": "v1-5-pruned-emaonly.safetensors",
    "ss_sd_model_hash": "e1441589",
    "ss_new_sd_model_hash": "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa",
    "ss_base_model_version": "sd_v1",
    "ss_v2": "False",
    "ss_tag_frequency": json.dumps(TAG_FREQUENCY),
    "ss_dataset_dirs": json.dumps(DATASET_DIRS),
    "ss_reg_dataset_dirs": json.dumps({"1_scenery": {"n_repeats": 1, "img_count": 40}}),
    "ss_num_train_images": "150",
    "ss_resolution": "(512, 512)",
    "ss_network_module": "networks.lora",
    "ss_network_dim": "16",
    "sshs_model_hash": "aaaa",
    "sshs_legacy_hash": "bbbb",
    "modelspec.title": "Lighthouse Style",
    "modelspec.architecture": "stable-diffusion-v1/lora",
}
LORA_KEYS = {
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": (
        4,
        768,
    ),
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight": (320, 4),
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha": (),
}


def kohya_lora(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "lighthouse_style.safetensors"
    path.write_bytes(
        save({k: np.zeros(s, dtype=np.float16) for k, s in LORA_KEYS.items()}, metadata=KOHYA)
    )
    blob = path.read_bytes()
    return read_safetensors_header(blob, len(blob)).metadata


def test_kohya_lora_leads(tmp_path: Path) -> None:
    metadata = kohya_lora(tmp_path)
    leads = training_leads(metadata)
    assert leads["output_name"] == "lighthouse_style"
    assert leads["session_id"] == "1234567890"
    assert leads["trained_from"] == "2023-11-14T22:13:20.500000Z"
    assert leads["trained_to"] == "2023-11-14T23:13:20Z"
    assert leads["dataset_folders"] == [
        {"name": "10_lighthouse", "images": 12, "repeats": 10},
        {"name": "5_harbour", "images": 6, "repeats": 5},
        {"name": "1_scenery", "images": 40, "repeats": 1, "regularization": True},
    ]
    assert leads["image_count"] == 18  # regularization images are not the trained subject
    assert leads["train_images_with_repeats"] == 150
    assert leads["top_tags"][:3] == [["lighthouse", 13], ["coast", 12], ["sky", 9]]
    assert leads["base_model"] == {
        "name": "v1-5-pruned-emaonly.safetensors",
        "hash": "e1441589",
        "new_hash": KOHYA["ss_new_sd_model_hash"],
    }
    assert leads["embedded_hashes"] == {
        "sshs_model_hash": "aaaa",
        "sshs_legacy_hash": "bbbb",
        "trusted": False,
    }
    assert leads["modelspec"]["modelspec.title"] == "Lighthouse Style"
    assert leads["network_module"] == "networks.lora"
    assert leads["raw"] == KOHYA
    assert "problems" not in leads
    json.dumps(leads)  # goes straight into the store
    found = classify(dict(LORA_KEYS), metadata)
    assert (found.kind, found.family) == ("lora", "sd1")


def test_top_tags_are_capped_and_ordered() -> None:
    tags = {f"tag{i:02d}": 100 - i for i in range(40)}
    leads = training_leads({"ss_tag_frequency": json.dumps({"d": tags})})
    top = leads["top_tags"]
    assert len(top) == 20 and top[0] == ["tag00", 100] and top[-1] == ["tag19", 81]
    assert leads["dataset_folders"] == [{"name": "d", "images": None, "repeats": None}]
    assert "image_count" not in leads


def test_newer_kohya_datasets_with_subsets() -> None:
    datasets = [
        {
            "num_train_images": 30,
            "subsets": [
                {"image_dir": "lighthouse", "img_count": 3, "num_repeats": 10, "is_reg": False},
                {"image_dir": "reg", "img_count": 8, "num_repeats": 1, "is_reg": True},
            ],
            "tag_frequency": {"lighthouse": {"sunset": 2}},
        }
    ]
    leads = training_leads({"ss_datasets": json.dumps(datasets)})
    assert leads["dataset_folders"] == [
        {"name": "lighthouse", "images": 3, "repeats": 10},
        {"name": "reg", "images": 8, "repeats": 1, "regularization": True},
    ]
    assert leads["image_count"] == 3
    assert leads["top_tags"] == [["sunset", 2]]


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"ss_tag_frequency": "{not json"}, "ss_tag_frequency: not JSON"),
        ({"ss_tag_frequency": "[1, 2]"}, "ss_tag_frequency: not an object"),
        ({"ss_tag_frequency": '{"d": {"a": "x"}, "e": 3}'}, "2 malformed"),
        ({"ss_tag_frequency": "[" * 100_000 + "]" * 100_000}, "ss_tag_frequency: not JSON"),
        ({"ss_dataset_dirs": '"text"'}, "ss_dataset_dirs: not an object"),
        ({"ss_datasets": "{}"}, "ss_datasets: not a list"),
        ({"ss_dataset_dirs": "x" * (MAX_JSON_CHARS + 1)}, "over the"),
        ({"ss_training_started_at": "yesterday"}, "ss_training_started_at"),
        ({"ss_training_started_at": "inf"}, "ss_training_started_at"),
        ({"ss_training_finished_at": "1e300"}, "ss_training_finished_at"),
    ],
)
def test_malformed_metadata_becomes_problems(metadata: dict[str, str], problem: str) -> None:
    leads = training_leads(metadata)
    assert any(problem in p for p in leads["problems"]), leads["problems"]
    assert leads["raw"] == metadata


def test_odd_shapes_inside_valid_json_are_tolerated() -> None:
    metadata = {
        "ss_dataset_dirs": json.dumps({"a": "x", "b": {"img_count": "7", "n_repeats": 2.0}}),
        "ss_datasets": json.dumps([1, {"subsets": "no"}, {"subsets": [3, {"image_dir": 5}]}]),
    }
    leads = training_leads(metadata)
    assert leads["dataset_folders"] == [
        {"name": "a", "images": None, "repeats": None},
        {"name": "b", "images": 7, "repeats": 2},
    ]
    assert "image_count" not in leads


def test_empty_metadata_gives_only_raw() -> None:
    assert training_leads({}) == {"raw": {}}
