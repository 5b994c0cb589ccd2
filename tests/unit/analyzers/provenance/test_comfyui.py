"""ComfyUI graphs: link-following, hostile graphs, the editor-graph fallback and the corpus."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from veriscan.analyzers.provenance.base import (
    MAX_GRAPH_NODES,
    GenerationParams,
    ImageMetadata,
    ProvenanceError,
)
from veriscan.analyzers.provenance.comfyui import ComfyUIParser
from veriscan.analyzers.provenance.metadata import read_metadata
from veriscan.analyzers.provenance.values import as_float, as_int, as_text

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "data"
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "MANIFEST.tsv").is_file(),
    reason=f"benign shared corpus not present at {CORPUS} (fresh clone): corpus test skipped",
)


def gradient() -> Image.Image:
    img = Image.new("RGB", (64, 48))
    img.putdata([(x * 4, y * 5, 128) for y in range(48) for x in range(64)])
    return img


def png(**chunks: str) -> ImageMetadata:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    buf = io.BytesIO()
    gradient().save(buf, "PNG", pnginfo=info)
    return read_metadata(buf.getvalue(), "fixture.png")


def parse_api(graph: dict[str, Any], **more: str) -> list[GenerationParams]:
    return ComfyUIParser().parse(png(prompt=json.dumps(graph), **more))


def node(class_type: str, **inputs: Any) -> dict[str, Any]:
    return {"class_type": class_type, "inputs": inputs}


def basic_graph() -> dict[str, Any]:
    return {
        "4": node("CheckpointLoaderSimple", ckpt_name="landscape_v2.safetensors"),
        "5": node("EmptyLatentImage", width=768, height=512, batch_size=1),
        "6": node("CLIPTextEncode", text="a red bicycle leaning on a fence", clip=["4", 1]),
        "7": node("CLIPTextEncode", text="blurry, lowres", clip=["4", 1]),
        "3": node(
            "KSampler",
            seed=1234,
            steps=28,
            cfg=6.5,
            sampler_name="dpmpp_2m",
            scheduler="karras",
            denoise=1.0,
            model=["4", 0],
            positive=["6", 0],
            negative=["7", 0],
            latent_image=["5", 0],
        ),
        "10": node("VAELoader", vae_name="sdxl_vae.safetensors"),
        "8": node("VAEDecode", samples=["3", 0], vae=["10", 0]),
        "9": node("SaveImage", filename_prefix="ComfyUI", images=["8", 0]),
    }


def test_sampler_fields_models_prompts_and_size_come_from_the_links() -> None:
    (p,) = parse_api(basic_graph())
    assert (p.generator, p.source) == ("comfyui", "png:prompt")
    assert (p.seed, p.steps, p.cfg, p.sampler, p.scheduler) == (1234, 28, 6.5, "dpmpp_2m", "karras")
    assert p.model == "landscape_v2.safetensors"
    assert p.prompt == "a red bicycle leaning on a fence"
    assert p.negative_prompt == "blurry, lowres"
    assert (p.width, p.height) == (768, 512)
    assert p.vae == "sdxl_vae.safetensors"
    assert p.workflow is not None and p.workflow["prompt"]["3"]["class_type"] == "KSampler"
    assert p.has_generation_parameters()


def test_links_through_reroute_primitive_and_string_nodes() -> None:
    g = basic_graph()
    g["20"] = node("PrimitiveInt", value=987654321)
    g["21"] = node("Text Multiline", text="a lighthouse on a cliff at dusk")
    g["22"] = node("Reroute", input=["4", 0])
    g["23"] = node("Seed (rgthree)", seed=["20", 0])
    g["3"]["inputs"].update(seed=["23", 0], model=["22", 0], steps=["20", 0])
    g["6"]["inputs"]["text"] = ["21", 0]
    (p,) = parse_api(g)
    assert p.seed == 987654321
    assert p.steps == 987654321
    assert p.prompt == "a lighthouse on a cliff at dusk"
    assert p.model == "landscape_v2.safetensors"


def test_a_value_computed_by_a_math_node_is_reported_as_unresolved() -> None:
    g = basic_graph()
    g["30"] = node("MathExpression|pysssss", expression="a*3", a=["31", 0])
    g["31"] = node("PrimitiveInt", value=10)
    g["3"]["inputs"]["steps"] = ["30", 0]
    (p,) = parse_api(g)
    assert p.steps is None
    assert p.extra["unresolved"] == {"steps": "MathExpression|pysssss node 30"}


def test_two_samplers_give_two_records_with_their_own_models() -> None:
    g = basic_graph()
    g["12"] = node("CheckpointLoaderSimple", ckpt_name="refiner_v1.safetensors")
    g["15"] = node("CLIPTextEncode", text="a red bicycle, sharp detail", clip=["12", 1])
    g["11"] = node(
        "KSamplerAdvanced",
        noise_seed=55,
        steps=10,
        cfg=5.0,
        sampler_name="euler",
        scheduler="normal",
        model=["12", 0],
        positive=["15", 0],
        negative=["7", 0],
        latent_image=["3", 0],
    )
    g["8"]["inputs"]["samples"] = ["11", 0]
    base, refiner = parse_api(g)
    assert (base.model, base.seed, base.extra["sampler_node"]) == (
        "landscape_v2.safetensors",
        1234,
        "3",
    )
    assert (refiner.model, refiner.seed, refiner.steps) == ("refiner_v1.safetensors", 55, 10)
    assert refiner.prompt == "a red bicycle, sharp detail"
    assert (refiner.width, refiner.height) == (768, 512)  # through the first sampler's latent
    assert base.workflow is not None and refiner.workflow is None
    assert set(base.extra["graph_models"]) >= {"landscape_v2.safetensors", "refiner_v1.safetensors"}


def test_lora_chain_with_strengths_and_stacks() -> None:
    g = basic_graph()
    g["40"] = node(
        "LoraLoader",
        lora_name="ink_style.safetensors",
        strength_model=0.7,
        strength_clip=0.5,
        model=["4", 0],
        clip=["4", 1],
    )
    g["41"] = node(
        "LoraLoaderModelOnly", lora_name="detail.safetensors", strength_model=0.4, model=["40", 0]
    )
    g["42"] = node(
        "Power Lora Loader (rgthree)",
        model=["41", 0],
        lora_1={"on": True, "lora": "glow.safetensors", "strength": 0.9},
        lora_2={"on": False, "lora": "unused.safetensors", "strength": 1},
    )
    g["3"]["inputs"]["model"] = ["42", 0]
    (p,) = parse_api(g)
    assert [(lora.name, lora.weight) for lora in p.loras] == [
        ("glow.safetensors", 0.9),
        ("detail.safetensors", 0.4),
        ("ink_style.safetensors", 0.7),
    ]
    assert p.model == "landscape_v2.safetensors"
    assert "unused.safetensors" in p.extra["graph_models"]  # named in the graph, kept for review


def test_controlnet_outputs_pick_the_positive_or_negative_side_by_index() -> None:
    g = basic_graph()
    g["50"] = node("ControlNetLoader", control_net_name="depth_cn.safetensors")
    g["51"] = node("LoadImage", image="depth.png")
    g["52"] = node(
        "ControlNetApplyAdvanced",
        strength=0.8,
        positive=["6", 0],
        negative=["7", 0],
        control_net=["50", 0],
        image=["51", 0],
    )
    g["53"] = node("FluxGuidance", guidance=3.5, conditioning=["52", 0])
    g["3"]["inputs"].update(positive=["53", 0], negative=["52", 1])
    (p,) = parse_api(g)
    assert p.prompt == "a red bicycle leaning on a fence"
    assert p.negative_prompt == "blurry, lowres"
    assert p.controlnets == ["depth_cn.safetensors"]
    assert p.extra["guidance"] == 3.5


def test_conditioning_combine_collects_every_text_in_order() -> None:
    g = basic_graph()
    g["60"] = node("CLIPTextEncode", text="snowy mountains", clip=["4", 1])
    g["61"] = node("ConditioningSetArea", width=256, height=256, conditioning=["60", 0])
    g["62"] = node("ConditioningCombine", conditioning_1=["6", 0], conditioning_2=["61", 0])
    g["3"]["inputs"]["positive"] = ["62", 0]
    (p,) = parse_api(g)
    assert p.prompt == "a red bicycle leaning on a fence\nsnowy mountains"


def test_sampler_custom_advanced_reads_noise_guider_sampler_and_sigmas() -> None:
    g = {
        "12": node("UNETLoader", unet_name="flux_like.safetensors", weight_dtype="default"),
        "6": node("CLIPTextEncode", text="a glass of water on a table", clip=["11", 0]),
        "11": node("DualCLIPLoader", clip_name1="t5.safetensors", clip_name2="clip_l.safetensors"),
        "25": node("RandomNoise", noise_seed=424242),
        "16": node("KSamplerSelect", sampler_name="euler"),
        "17": node("BasicScheduler", scheduler="simple", steps=4, denoise=1.0, model=["12", 0]),
        "22": node("BasicGuider", model=["12", 0], conditioning=["6", 0]),
        "5": node("EmptySD3LatentImage", width=1024, height=1024, batch_size=1),
        "13": node(
            "SamplerCustomAdvanced",
            noise=["25", 0],
            guider=["22", 0],
            sampler=["16", 0],
            sigmas=["17", 0],
            latent_image=["5", 0],
        ),
    }
    (p,) = parse_api(g)
    assert (p.seed, p.steps, p.sampler, p.scheduler) == (424242, 4, "euler", "simple")
    assert (p.model, p.prompt, p.width) == (
        "flux_like.safetensors",
        "a glass of water on a table",
        1024,
    )
    assert "clip_l.safetensors" in p.extra["graph_models"]


def test_cyclic_links_terminate() -> None:
    g = {
        "1": node("LoraLoader", lora_name="a.safetensors", strength_model=1.0, model=["2", 0]),
        "2": node("LoraLoader", lora_name="b.safetensors", strength_model=1.0, model=["1", 0]),
        "3": node("ConditioningCombine", conditioning_1=["4", 0], conditioning_2=["3", 0]),
        "4": node("ConditioningCombine", conditioning_1=["3", 0], conditioning_2=["5", 0]),
        "5": node("CLIPTextEncode", text=["6", 0], clip=["9", 1]),
        "6": node("StringFunction", text=["7", 0]),
        "7": node("StringFunction", text=["6", 0]),
        "8": node("PrimitiveInt", value=["8", 0]),
        "10": node("LatentUpscale", samples=["10", 0]),
        "20": node(
            "KSampler",
            seed=["8", 0],
            steps=20,
            model=["1", 0],
            positive=["3", 0],
            negative=["4", 0],
            latent_image=["10", 0],
        ),
        "21": node("VAEDecode", samples=["20", 0], vae=["21", 0]),
    }
    start = time.perf_counter()
    (p,) = parse_api(g)
    assert time.perf_counter() - start < 10.0  # hang guard, not a speed target
    assert {lora.name for lora in p.loras} == {"a.safetensors", "b.safetensors"}
    assert p.seed is None and p.prompt is None and p.width is None


def test_graph_over_the_node_limit_is_refused() -> None:
    big = {str(i): node("Note", text="x") for i in range(MAX_GRAPH_NODES + 1)}
    with pytest.raises(ProvenanceError, match="over the"):
        parse_api(big)
    ui = {"nodes": [{"id": i, "type": "Note"} for i in range(MAX_GRAPH_NODES + 1)], "links": []}
    with pytest.raises(ProvenanceError, match="over the"):
        ComfyUIParser().parse(png(workflow=json.dumps(ui)))


def test_truncated_json_is_an_error_unless_the_other_graph_stands_in() -> None:
    text = json.dumps(basic_graph())[:-40]
    with pytest.raises(ProvenanceError, match="not valid JSON"):
        ComfyUIParser().parse(png(prompt=text))
    (p,) = ComfyUIParser().parse(png(prompt=text, workflow=json.dumps(ui_workflow())))
    assert p.source == "png:workflow" and p.seed == 31337
    assert "not valid JSON" in p.extra["errors"][0]


def test_wrong_types_do_not_crash() -> None:
    g: dict[str, Any] = {
        "1": {"class_type": 7, "inputs": {}},
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": None},
        "3": node("CheckpointLoaderSimple", ckpt_name=["not", "a", "name"]),
        "4": node("CLIPTextEncode", text=None, clip=[None, 0]),
        "5": node(
            "KSampler",
            seed="abc",
            steps=[1, 2],
            cfg={"x": 1},
            sampler_name=3,
            model=[["3"], 0],
            positive=["4", "0"],
            negative=[4, 0],
            latent_image=True,
        ),
        "6": "not a node",
        "7": None,
        "extra": [1, 2, 3],
    }
    (p,) = parse_api(g)
    assert (p.seed, p.steps, p.cfg, p.sampler, p.model, p.prompt) == (None,) * 6
    for hostile in ("[1, 2]", '{"a": 1}', "null"):
        assert ComfyUIParser().parse(png(workflow=hostile)) == []
    with pytest.raises(ProvenanceError):
        ComfyUIParser().parse(png(prompt='{"1": [}'))


def test_a_ten_megabyte_json_string_is_refused_quickly() -> None:
    blob = '{"1": {"class_type": "Note", "inputs": {"text": "' + "a" * (10 << 20) + '"}}}'
    meta = ImageMetadata(
        format="PNG", width=1, height=1, mode="RGB", name="x", text={"prompt": blob}
    )
    start = time.perf_counter()
    with pytest.raises(ProvenanceError, match="limit"):
        ComfyUIParser().parse(meta)
    assert time.perf_counter() - start < 10.0  # hang guard, not a speed target


def test_plain_text_prompt_chunk_is_not_comfyui() -> None:
    meta = png(
        prompt="a red bicycle leaning on a fence",
        negative_prompt="blurry",
        seed="42",
        use_stable_diffusion_model="sd-v1-5",
    )
    assert ComfyUIParser().parse(meta) == []
    assert ComfyUIParser().parse(png(prompt="{red|blue} bicycle")) == []


def test_animated_webp_exif_tags() -> None:
    exif = Image.Exif()
    exif[0x0110] = "prompt:" + json.dumps(basic_graph())
    exif[0x010F] = "workflow:" + json.dumps(ui_workflow())
    frames = [gradient(), gradient().rotate(180)]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], exif=exif, duration=40)
    (p,) = ComfyUIParser().parse(read_metadata(buf.getvalue(), "clip.webp"))
    assert (p.source, p.seed, p.model) == ("exif:0x0110", 1234, "landscape_v2.safetensors")
    assert p.workflow is not None and set(p.workflow) == {"prompt", "workflow"}


def test_civitai_graph_in_jpeg_user_comment() -> None:
    g = basic_graph()
    g["resource-stack"] = g.pop("4")
    g["resource-stack"]["inputs"]["ckpt_name"] = "urn:air:sdxl:checkpoint:civitai:1@2"
    for key in ("3", "6", "7"):
        for name, value in g[key]["inputs"].items():
            if isinstance(value, list) and value[0] == "4":
                g[key]["inputs"][name] = ["resource-stack", value[1]]
    g["extra"] = {"airs": ["urn:air:sdxl:checkpoint:civitai:1@2"]}
    g["extraMetadata"] = json.dumps({"prompt": "a red bicycle", "steps": 28, "seed": 1234})
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + json.dumps(g).encode("utf-16-be")
    buf = io.BytesIO()
    gradient().save(buf, "JPEG", exif=exif)
    (p,) = ComfyUIParser().parse(read_metadata(buf.getvalue(), "civitai.jpeg"))
    assert (p.source, p.model, p.seed) == (
        "exif:UserComment",
        "urn:air:sdxl:checkpoint:civitai:1@2",
        1234,
    )
    assert p.extra["app"] == "Civitai" and p.extra["civitai"]["steps"] == 28
    assert p.extra["civitai_resources"] == ["urn:air:sdxl:checkpoint:civitai:1@2"]


def ui_workflow() -> dict[str, Any]:
    """An editor graph: positional widgets, a link table, a Reroute and a PrimitiveNode."""

    def ui(
        nid: int, kind: str, widgets: Any = None, inputs: Any = (), mode: int = 0
    ) -> dict[str, Any]:
        slots = [{"name": n, "type": "*", "link": lid} for n, lid in inputs]
        return {"id": nid, "type": kind, "widgets_values": widgets, "inputs": slots, "mode": mode}

    return {
        "nodes": [
            ui(4, "CheckpointLoaderSimple", ["river_v3.safetensors"]),
            ui(40, "LoraLoader", ["watercolor.safetensors", 0.6, 1.0], [("model", 1)]),
            ui(41, "LoraLoader", ["muted.safetensors", 1.0, 1.0], [("model", 2)], mode=4),
            ui(6, "CLIPTextEncode", ["a river through a pine forest"]),
            ui(7, "CLIPTextEncode", ["text, watermark"]),
            ui(5, "EmptyLatentImage", [640, 448, 1]),
            ui(30, "PrimitiveNode", [31337, "fixed"]),
            ui(31, "Reroute", None, [("", 5)]),
            ui(
                3,
                "KSampler",
                [0, "randomize", 24, 7.0, "euler_ancestral", "normal", 1.0],
                [("model", 3), ("positive", 4), ("negative", 6), ("latent_image", 7), ("seed", 8)],
            ),
            ui(9, "Note", ["shapes only"]),
        ],
        "links": [
            [1, 4, 0, 40, 0, "MODEL"],
            [2, 40, 0, 41, 0, "MODEL"],
            [3, 41, 0, 3, 0, "MODEL"],
            [4, 6, 0, 3, 1, "CONDITIONING"],
            [5, 7, 0, 31, 0, "CONDITIONING"],
            [6, 31, 0, 3, 2, "CONDITIONING"],
            [7, 5, 0, 3, 3, "LATENT"],
            {"id": 8, "origin_id": 30, "origin_slot": 0, "target_id": 3, "target_slot": 4},
        ],
        "extra": {"frontendVersion": "1.18.3"},
    }


def test_editor_workflow_alone_is_converted_and_walked() -> None:
    (p,) = ComfyUIParser().parse(png(workflow=json.dumps(ui_workflow())))
    assert p.source == "png:workflow"
    assert (p.seed, p.steps, p.cfg, p.sampler) == (31337, 24, 7.0, "euler_ancestral")
    assert (p.model, p.width, p.height) == ("river_v3.safetensors", 640, 448)
    assert (p.prompt, p.negative_prompt) == ("a river through a pine forest", "text, watermark")
    assert [lora.name for lora in p.loras] == ["watercolor.safetensors"]  # the bypassed one is not
    assert p.version == "1.18.3"


def test_coercions_refuse_booleans_nan_and_junk() -> None:
    assert [as_int(v) for v in (True, 3.0, 3.5, "12", " 7 ", "1e3", "x", None)] == [
        None,
        3,
        None,
        12,
        7,
        1000,
        None,
        None,
    ]
    assert [as_float(v) for v in ("nan", "inf", "2.5", False, [1])] == [None, None, 2.5, None, None]
    assert [as_text(v) for v in (" a ", "", "None", 5)] == ["a", None, None, None]


# --- the corpus ------------------------------------------------------------------------------

# Read with `exiftool -a -G1 -s -b -Prompt FILE` (or -Model / -UserComment) and python's json on
# that text, following the sampler's links by hand: seed, steps, model, LoRAs, prompt[:20].
EXPECTED = [
    (
        "comfy/flux/flux_schnell_example.png",
        112298569477003,
        4,
        "flux1-schnell.safetensors",
        [],
        "a bottle with a beau",
    ),
    (
        "comfy/flux/flux_depth_lora_example.png",
        91050358797301,
        20,
        "flux1-dev.safetensors",
        ["flux1-depth-dev-lora.safetensors"],
        "a photograph of a sh",
    ),
    (
        "comfy/sdxl/sdxl_refiner_prompt_example.png",
        6767725640732,
        25,
        "sd_xl_base_1.0.safetensors",
        [],
        "daytime sky nature d",
    ),
    (
        "comfy/aura_flow/aura_flow_0.2_example.png",
        274576428651941,
        20,
        "aura_flow_0.2.safetensors",
        [],
        "a glass filled with ",
    ),
    (
        "comfy/sd3/sd3.5_text_encoders_example.png",
        714772221606588,
        20,
        "sd3.5_large.safetensors",
        [],
        "a bottle with a rain",
    ),
    (
        "comfy/inpaint/inpain_model_outpainting.png",
        152545289528694,
        20,
        "512-inpainting-ema.safetensors",
        [],
        "outdoors in the yose",
    ),
    (
        "comfy/mochi/mochi_text_to_video_example.webp",
        704883238463297,
        30,
        "mochi_preview_bf16.safetensors",
        [],
        "a fox moving quickly",
    ),
    (
        "othergen/dataset-tools/CivitaiComfyui_Test.jpeg",
        1816877408,
        30,
        "urn:air:sdxl:checkpoint:civitai:288584@324619",
        ["urn:air:sdxl:lora:civitai:1141783@1284026"],
        "embedding:urn:air:sd",
    ),
]


def corpus_params(rel: str) -> list[GenerationParams]:
    path = CORPUS / rel
    return ComfyUIParser().parse(read_metadata(path.read_bytes(), path.name))


@needs_corpus
@pytest.mark.parametrize(("rel", "seed", "steps", "model", "loras", "prompt"), EXPECTED)
def test_corpus_values_match_an_independent_reading(
    rel: str, seed: int, steps: int, model: str, loras: list[str], prompt: str
) -> None:
    first = corpus_params(rel)[0]
    assert (first.seed, first.steps, first.model) == (seed, steps, model)
    assert [lora.name for lora in first.loras] == loras
    assert (first.prompt or "")[:20] == prompt


def tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@needs_corpus
def test_every_comfy_file_gets_the_right_family_and_its_models() -> None:
    for row in tsv(CORPUS / "comfy" / "LABELS.tsv"):
        found = corpus_params("comfy/" + row["local_file"])
        if row["has_prompt"] == "True":
            assert found and {p.generator for p in found} == {"comfyui"}, row["local_file"]
            models = {p.model for p in found} | set(found[0].extra["graph_models"])
            assert set(row["models_from_prompt"].split(";")) <= {p.model for p in found}, models
        else:
            assert found == [], row["local_file"]  # input images, not generated
    for row in tsv(CORPUS / "comfy" / "LABELS_extra.tsv"):
        found = corpus_params("comfy/" + row["local_file"])
        if row["generator_format"].startswith("ComfyUI"):
            assert found and found[0].generator == "comfyui", row["local_file"]
        else:  # A1111-style infotext written by a ComfyUI save node: the A1111 parser's
            assert found == [], row["local_file"]


@needs_corpus
def test_editor_graphs_in_the_corpus_give_what_the_api_graphs_give() -> None:
    fields = ("seed", "steps", "cfg", "sampler", "model", "prompt", "negative_prompt", "width")
    for path in sorted((CORPUS / "comfy").rglob("*.png")):
        meta = read_metadata(path.read_bytes(), path.name)
        if "prompt" not in meta.text or "workflow" not in meta.text:
            continue
        from_api = ComfyUIParser().parse(meta)
        del meta.text["prompt"]
        from_editor = ComfyUIParser().parse(meta)
        assert len(from_api) == len(from_editor), path.name
        for a, b in zip(from_api, from_editor, strict=True):
            assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields], path.name


def test_a_wide_hostile_graph_costs_bounded_time_and_says_so() -> None:
    """4900 nodes that each reach every other, and 64 samplers starting from different nodes."""
    g: dict[str, Any] = {
        str(i): node(
            "ConditioningCombine",
            conditioning_1=[str(i + 1), 0],
            conditioning_2=[str(i + 2), 0],
            model=[str(i + 1), 0],
            samples=[str(i + 1), 0],
        )
        for i in range(4900)
    }
    for i in range(64):
        g[f"s{i}"] = node(
            "KSampler",
            seed=i,
            positive=[str(i), 0],
            negative=[str(i + 1), 0],
            model=[str(i), 0],
            latent_image=[str(i), 0],
        )
    start = time.perf_counter()
    records = parse_api(g)
    assert time.perf_counter() - start < 10.0  # hang guard, not a speed target
    assert {p.seed for p in records} == set(range(64)) and records[0].seed == 0
    assert any("walk_truncated" in p.extra for p in records)
