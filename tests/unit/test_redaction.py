"""The withholding policy decides by name, by content and by quotation, wherever a fact sits."""

from __future__ import annotations

import copy
import json
import time

import pytest

from veriscan.redaction import (
    WITHHELD,
    is_generation_text,
    redact,
    withheld_fields,
    withhold,
    withhold_text,
)

PROMPT = "a lighthouse on a rocky coast at dusk"
INFOTEXT = (
    f"{PROMPT}\nNegative prompt: blurry\n"
    "Steps: 28, Sampler: Euler a, CFG scale: 6.5, Seed: 42, Size: 512x768, Model: demo_v1"
)
API_GRAPH = {
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": PROMPT}},
    "3": {"class_type": "KSampler", "inputs": {"seed": 42, "positive": ["6", 0]}},
}


def record() -> dict[str, object]:
    return {
        "sha256": "ab" * 32,
        "locations": [{"evidence": "phone", "locator": "DCIM/00012-42.png"}],
        "exif": {
            "make": "workflow:" + json.dumps({"nodes": [], "links": []}),
            "model": "prompt:" + json.dumps(API_GRAPH),
            "software": "ComfyUI",
            "user_comment_hex": "554e49434f4445",
        },
        "ai": {
            "verdict": "conclusive",
            "explanation": "Verdict: conclusive. Evidence found: automatic1111 parameters.",
            "evidence": [
                {"summary": f"text:Author names a generator: {PROMPT!r}", "details": {}},
                {"summary": "IPTC source type", "details": {"raw": "trainedAlgorithmicMedia"}},
            ],
            "params": [
                {
                    "generator": "automatic1111",
                    "prompt": PROMPT,
                    "negative_prompt": "blurry",
                    "raw": INFOTEXT,
                    "workflow": API_GRAPH,
                    "seed": 42,
                    "model": "demo_v1",
                    "extra": {
                        "ADetailer prompt": "a face",
                        "Hires upscaler": "4x_foolhardy_Remacri",
                        "prompt_strength": 0.8,
                        "dream": '"a lighthouse" -s 20 -S 42 -W 512 -H 512 -C 7.5',
                    },
                }
            ],
        },
        "findings": {"plugin.notes": {"note": INFOTEXT, "count": 3, "tag": "landscape"}},
    }


def test_prompts_withheld_by_name_and_parameters_kept() -> None:
    out = withhold(record())
    params = out["ai"]["params"][0]  # type: ignore[index]
    for key in ("prompt", "negative_prompt", "raw", "workflow"):
        assert params[key] == WITHHELD
    assert params["extra"]["ADetailer prompt"] == WITHHELD
    assert params["extra"]["dream"] == WITHHELD
    assert params["extra"]["prompt_strength"] == 0.8
    assert params["extra"]["Hires upscaler"] == "4x_foolhardy_Remacri"
    assert (params["seed"], params["model"]) == (42, "demo_v1")
    assert out["exif"]["user_comment_hex"] == WITHHELD  # type: ignore[index]


def test_generation_text_withheld_wherever_it_sits() -> None:
    out = withhold(record())
    exif = out["exif"]
    assert exif["make"] == WITHHELD and exif["model"] == WITHHELD  # type: ignore[index]
    assert exif["software"] == "ComfyUI"  # type: ignore[index]
    notes = out["findings"]["plugin.notes"]  # type: ignore[index]
    assert notes == {"note": WITHHELD, "count": 3, "tag": "landscape"}


def test_a_quotation_of_a_prompt_is_withheld_and_other_text_kept() -> None:
    evidence = withhold(record())["ai"]["evidence"]  # type: ignore[index]
    assert evidence[0]["summary"] == WITHHELD
    assert evidence[1]["details"] == {"raw": "trainedAlgorithmicMedia"}
    assert withhold(record())["ai"]["explanation"].startswith("Verdict")  # type: ignore[index]


def test_locations_name_the_evidence_and_are_never_touched() -> None:
    rec = record()
    rec["locations"] = [{"evidence": "p", "locator": f"{PROMPT} Steps: 2, Sampler: x.png"}]
    assert withhold(rec)["locations"] == rec["locations"]


def test_a_key_made_of_generation_text_is_renamed() -> None:
    rec = {"findings": {"odd": {INFOTEXT: 1, "fine": 2}}}
    odd = withhold(rec)["findings"]["odd"]  # type: ignore[index]
    assert "fine" in odd and INFOTEXT not in odd and PROMPT not in json.dumps(odd)


def test_input_untouched_and_every_withheld_value_listed_for_a_reveal() -> None:
    rec = record()
    before = copy.deepcopy(rec)
    result = redact(rec)
    assert rec == before
    paths = {f.path: f.text for f in result.fields}
    assert paths["exif.make"].startswith("workflow:{")
    assert paths["ai.params[0].prompt"] == PROMPT
    assert PROMPT in paths["ai.params[0].workflow"]
    assert withheld_fields(rec) == result.fields
    assert withhold(withhold(rec)) == withhold(rec)
    assert redact({"exif": {"make": "Canon"}}).fields == []


@pytest.mark.parametrize(
    "text",
    [
        INFOTEXT,
        "prompt:" + json.dumps(API_GRAPH),
        json.dumps({"prompt": PROMPT, "uc": "lowres", "steps": 28}),
        json.dumps({"sui_image_params": {"prompt": PROMPT}}),
        '{"6": {"class_type": "CLIPTextEncode", "inputs": {"text": "cut off',
        f"{PROMPT} --ar 16:9 --v 6.1 Job ID: 0f2b1c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        f'"{PROMPT}" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms',
        json.dumps({"nested": json.dumps({"negative_prompt": "blurry"})}),
    ],
)
def test_generation_text_recognised(text: str) -> None:
    assert is_generation_text(text)
    assert withhold_text(text) == WITHHELD


@pytest.mark.parametrize(
    "text",
    [
        "Canon EOS 5D Mark IV",
        "OLYMPUS DIGITAL CAMERA",
        "Adobe Photoshop 25.0 (Windows)",
        '{"prompt_strength": 0.8, "tags": ["sea"]}',
        "decoding stopped after 3 frames",
        "steps: 3 of 5 done",
    ],
)
def test_ordinary_text_kept(text: str) -> None:
    assert not is_generation_text(text)
    assert withhold_text(text) == text


def test_hostile_shapes_are_bounded() -> None:
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    out = withhold({"findings": {"deep": deep}})
    assert out["findings"]["deep"] != deep  # type: ignore[index]
    big = "word " * 400_000 + "Steps: 20, Sampler: Euler"
    started = time.perf_counter()
    assert withhold({"exif": {"software": big}})["exif"] == {"software": WITHHELD}
    assert time.perf_counter() - started < 2
