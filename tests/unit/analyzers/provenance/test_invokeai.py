"""InvokeAI: 2.x Dream and sd-metadata, 3.x+ invokeai_metadata, graphs and editor workflows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from veriscan.analyzers.provenance.base import MAX_GRAPH_NODES, ImageMetadata, ProvenanceError
from veriscan.analyzers.provenance.invokeai import InvokeAIParser
from veriscan.analyzers.provenance.metadata import read_metadata

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "data"
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "MANIFEST.tsv").is_file(),
    reason=f"benign shared corpus not present at {CORPUS} (fresh clone): corpus test skipped",
)
BLAKE = "blake3:" + "ab" * 32


def png(**chunks: str) -> ImageMetadata:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key.replace("_dash_", "-"), value)
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((32, 32)).convert("RGB").save(buf, "PNG", pnginfo=info)
    return read_metadata(buf.getvalue(), "fixture.png")


def core(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "generation_mode": "sdxl_txt2img",
        "positive_prompt": "a red bicycle leaning on a fence",
        "negative_prompt": "blurry",
        "width": 1024,
        "height": 768,
        "seed": 3293022630,
        "cfg_scale": 6.0,
        "steps": 30,
        "scheduler": "dpmpp_2m_k",
        "model": {
            "key": "k1",
            "hash": BLAKE,
            "name": "Landscape XL",
            "base": "sdxl",
            "type": "main",
        },
        "vae": {"key": "k2", "hash": "blake3:00ff", "name": "sdxl-vae-fp16", "base": "sdxl"},
        "loras": [
            {"model": {"key": "k3", "hash": "blake3:1234", "name": "ink style"}, "weight": 0.75},
            {"lora": {"model_name": "older_lora", "base_model": "sdxl"}, "weight": 0.5},
        ],
        "controlnets": [{"control_model": {"name": "canny sdxl"}, "control_weight": 1}],
        "app_version": "5.6.0",
    }
    data.update(overrides)
    return data


def test_invokeai_metadata_with_blake3_hashes() -> None:
    (p,) = InvokeAIParser().parse(png(invokeai_metadata=json.dumps(core())))
    assert (p.generator, p.source, p.version) == ("invokeai", "png:invokeai_metadata", "5.6.0")
    assert (p.prompt, p.negative_prompt) == ("a red bicycle leaning on a fence", "blurry")
    assert (p.seed, p.steps, p.cfg, p.sampler) == (3293022630, 30, 6.0, "dpmpp_2m_k")
    assert (p.width, p.height) == (1024, 768)
    assert (p.model, p.model_hash, p.model_hash_scheme) == ("Landscape XL", "ab" * 32, "blake3")
    assert p.vae == "sdxl-vae-fp16"
    assert [(x.name, x.weight, x.hash) for x in p.loras] == [
        ("ink style", 0.75, "1234"),
        ("older_lora", 0.5, None),
    ]
    assert p.controlnets == ["canny sdxl"]
    assert p.extra["generation_mode"] == "sdxl_txt2img"


def test_wrong_types_in_metadata_do_not_crash() -> None:
    data = core(seed="12", steps=[30], cfg_scale=None, model=["x"], loras={"a": 1}, vae=5)
    data["controlnets"] = [None, "x", {"control_model": 3}]
    (p,) = InvokeAIParser().parse(png(invokeai_metadata=json.dumps(data)))
    assert (p.seed, p.steps, p.cfg, p.model, p.vae, p.loras, p.controlnets) == (
        12,
        None,
        None,
        None,
        None,
        [],
        [],
    )
    with pytest.raises(ProvenanceError, match="not an object"):
        InvokeAIParser().parse(png(invokeai_metadata="[1, 2, 3]"))


def test_truncated_json_is_an_error_unless_another_chunk_stands_in() -> None:
    broken = json.dumps(core())[:-30]
    with pytest.raises(ProvenanceError, match="not valid JSON"):
        InvokeAIParser().parse(png(invokeai_metadata=broken))
    (p,) = InvokeAIParser().parse(png(invokeai_metadata=broken, invokeai_graph=json.dumps(graph())))
    assert p.source == "png:invokeai_graph" and p.seed == 77
    assert "not valid JSON" in p.extra["errors"][0]


def graph() -> dict[str, Any]:
    """An executed graph with no metadata node: values reached by following edges."""

    def edge(src: str, out: str, dst: str, field: str) -> dict[str, Any]:
        return {
            "source": {"node_id": src, "field": out},
            "destination": {"node_id": dst, "field": field},
        }

    return {
        "id": "g1",
        "nodes": {
            "model": {
                "id": "model",
                "type": "main_model_loader",
                "model": {"name": "River 1.5", "hash": BLAKE},
            },
            "lora": {
                "id": "lora",
                "type": "lora_loader",
                "lora": {"name": "watercolor"},
                "weight": 0.6,
            },
            "text": {"id": "text", "type": "string", "value": "a river through a pine forest"},
            "pos": {"id": "pos", "type": "compel"},
            "neg": {"id": "neg", "type": "compel", "prompt": "text, watermark"},
            "noise": {"id": "noise", "type": "noise", "seed": 77, "width": 640, "height": 448},
            "denoise": {
                "id": "denoise",
                "type": "denoise_latents",
                "steps": 25,
                "cfg_scale": 7.5,
                "scheduler": "euler",
            },
        },
        "edges": [
            edge("text", "value", "pos", "prompt"),
            edge("pos", "conditioning", "denoise", "positive_conditioning"),
            edge("neg", "conditioning", "denoise", "negative_conditioning"),
            edge("noise", "noise", "denoise", "noise"),
            edge("lora", "unet", "denoise", "unet"),
        ],
    }


def test_graph_without_metadata_node_is_followed_through_its_edges() -> None:
    (p,) = InvokeAIParser().parse(png(invokeai_graph=json.dumps(graph())))
    assert (p.prompt, p.negative_prompt) == ("a river through a pine forest", "text, watermark")
    assert (p.seed, p.steps, p.cfg, p.sampler, p.width, p.height) == (
        77,
        25,
        7.5,
        "euler",
        640,
        448,
    )
    assert (p.model, p.model_hash_scheme) == ("River 1.5", "blake3")
    assert [(x.name, x.weight) for x in p.loras] == [("watercolor", 0.6)]
    assert p.workflow == {"invokeai_graph": graph()}


def test_graph_with_core_metadata_node_and_cyclic_edges() -> None:
    g = graph()
    g["nodes"]["meta"] = {"id": "meta", "type": "core_metadata", **core(seed=5)}
    g["edges"] += [
        {
            "source": {"node_id": "pos", "field": "prompt"},
            "destination": {"node_id": "text", "field": "value"},
        }
    ]
    (p,) = InvokeAIParser().parse(png(invokeai_graph=json.dumps(g)))
    assert (p.seed, p.model) == (5, "Landscape XL")
    g["nodes"]["text"]["value"] = None  # now pos.prompt <- text.value <- pos.prompt: a loop
    del g["nodes"]["meta"]
    (p,) = InvokeAIParser().parse(png(invokeai_graph=json.dumps(g)))
    assert p.prompt is None and p.seed == 77


def test_editor_workflow_and_node_limit() -> None:
    workflow = {
        "name": "shapes",
        "nodes": [
            {
                "id": "a",
                "type": "invocation",
                "data": {
                    "type": "main_model_loader",
                    "inputs": {
                        "model": {"name": "model", "value": {"name": "Shapes 2", "hash": BLAKE}}
                    },
                },
            },
            {
                "id": "b",
                "type": "invocation",
                "data": {
                    "type": "denoise_latents",
                    "inputs": {"steps": {"value": 12}, "cfg_scale": {"value": 4}},
                },
            },
            {
                "id": "c",
                "type": "invocation",
                "data": {"type": "compel", "inputs": {"prompt": {"value": "three blue cubes"}}},
            },
        ],
        "edges": [
            {
                "source": "c",
                "sourceHandle": "conditioning",
                "target": "b",
                "targetHandle": "positive_conditioning",
            }
        ],
    }
    (p,) = InvokeAIParser().parse(png(invokeai_workflow=json.dumps(workflow)))
    assert (p.model, p.steps, p.cfg, p.prompt) == ("Shapes 2", 12, 4.0, "three blue cubes")
    huge = {"nodes": [{"id": str(i)} for i in range(MAX_GRAPH_NODES + 1)], "edges": []}
    with pytest.raises(ProvenanceError, match="over the"):
        InvokeAIParser().parse(png(invokeai_workflow=json.dumps(huge)))


SD_METADATA = {
    "model": "stable diffusion",
    "model_weights": "landscape-1.4",
    "model_hash": "cc" * 32,
    "app_id": "invoke-ai/InvokeAI",
    "app_version": "2.3.0",
    "image": {
        "prompt": [{"prompt": "a lighthouse on a cliff [fog, rain]", "weight": 1.0}],
        "steps": 40,
        "cfg_scale": 7.5,
        "seed": 1234,
        "width": 512,
        "height": 512,
        "sampler": "k_lms",
        "type": "txt2img",
    },
}
DREAM = '"a lighthouse on a cliff [fog, rain]" -s 40 -S 1234 -W 512 -H 512 -C 7.5 -A k_lms -U 2 0.5'


def test_sd_metadata_is_primary_and_dream_kept() -> None:
    (p,) = InvokeAIParser().parse(png(Dream=DREAM, sd_dash_metadata=json.dumps(SD_METADATA)))
    assert p.source == "png:sd-metadata" and p.extra["also_in"] == ["png:Dream"]
    assert (p.prompt, p.negative_prompt) == ("a lighthouse on a cliff", "fog, rain")
    assert (p.seed, p.steps, p.cfg, p.sampler, p.width) == (1234, 40, 7.5, "k_lms", 512)
    assert (p.model, p.model_hash_scheme, p.version) == ("landscape-1.4", "sha256", "2.3.0")
    assert p.extra["dream"] == DREAM


@pytest.mark.parametrize(
    ("dream", "prompt", "seed", "options"),
    [
        (DREAM, "a lighthouse on a cliff", 1234, {"-U": "2"}),
        (
            "pond with waterlilies -s 50 -S 7 --seamless",
            "pond with waterlilies",
            7,
            {"--seamless": True},
        ),
        ('"an unbalanced \\"quote -s 5 -S 9', '"an unbalanced \\"quote', 9, {}),
        ("-S", "", None, {}),
    ],
)
def test_dream_command_lines(
    dream: str, prompt: str, seed: int | None, options: dict[str, Any]
) -> None:
    (p,) = InvokeAIParser().parse(png(Dream=dream))
    assert (p.prompt or "", p.seed, p.source) == (prompt, seed, "png:Dream")
    assert p.extra["options"] == options


def test_not_invokeai() -> None:
    assert InvokeAIParser().parse(png(parameters="a cat\nSteps: 20, Seed: 1")) == []


# --- the corpus ------------------------------------------------------------------------------

# Read with `exiftool -a -G1 -s -b -Sd-metadata FILE` / `-Invokeai_metadata` / `-Dream` and python's
# json: seed, steps, model name, prompt[:20] (None where the prompt describes a person).
EXPECTED = [
    (
        "othergen/invokeai-docs/preflight-checks/outputs/000012.1476370516.png",
        1476370516,
        50,
        None,
        "pond with waterlilli",
    ),
    (
        "othergen/invokeai-docs/img2img/000030.1592514025.png",
        1592514025,
        10,
        "stable-diffusion-1.4",
        "fire",
    ),
    (
        "othergen/sd-parsers/InvokeAI/invokeai_imeta1.png",
        3293022630,
        35,
        "juggernautXL",
        "digital artwork, oil",
    ),
    (
        "othergen/sd-parsers/InvokeAI/invokeai_sdmeta1.png",
        2980747362,
        50,
        "deliberateForInvoke_v08",
        None,
    ),
    ("othergen/sd-parsers/InvokeAI/invokeai_dream1.png", 2980747362, 50, None, None),
]


def corpus(rel: str) -> ImageMetadata:
    return read_metadata((CORPUS / rel).read_bytes(), Path(rel).name)


@needs_corpus
@pytest.mark.parametrize(("rel", "seed", "steps", "model", "prompt"), EXPECTED)
def test_corpus_values_match_an_independent_reading(
    rel: str, seed: int, steps: int, model: str | None, prompt: str | None
) -> None:
    (p,) = InvokeAIParser().parse(corpus(rel))
    assert (p.seed, p.steps, p.model) == (seed, steps, model)
    if prompt is not None:
        assert (p.prompt or "")[:20] == prompt


@needs_corpus
def test_every_invokeai_file_in_the_corpus_is_found() -> None:
    with (CORPUS / "othergen" / "LABELS.tsv").open(newline="", encoding="utf-8") as fh:
        rows = [
            r for r in csv.DictReader(fh, delimiter="\t") if "InvokeAI" in r["generator_format"]
        ]
    assert len(rows) == 16
    for row in rows:
        (p,) = InvokeAIParser().parse(corpus("othergen/" + row["local_file"]))
        assert p.generator == "invokeai" and p.has_generation_parameters(), row["local_file"]
