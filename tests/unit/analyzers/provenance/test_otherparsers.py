"""Fooocus, SwarmUI, Draw Things, Easy Diffusion, Midjourney; cross-parser corpus checks."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import struct
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from veriscan.analyzers.provenance.base import GenerationParams, ImageMetadata, ProvenanceError
from veriscan.analyzers.provenance.comfyui import ComfyUIParser
from veriscan.analyzers.provenance.fooocus import FooocusParser
from veriscan.analyzers.provenance.invokeai import InvokeAIParser
from veriscan.analyzers.provenance.metadata import read_metadata
from veriscan.analyzers.provenance.novelai import NovelAIParser
from veriscan.analyzers.provenance.others import (
    DrawThingsParser,
    EasyDiffusionParser,
    MidjourneyParser,
    xmp_property,
)
from veriscan.analyzers.provenance.swarmui import SwarmUIParser

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "data"
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "MANIFEST.tsv").is_file(),
    reason=f"benign shared corpus not present at {CORPUS} (fresh clone): corpus test skipped",
)
PARSERS = (
    ComfyUIParser,
    InvokeAIParser,
    NovelAIParser,
    FooocusParser,
    SwarmUIParser,
    DrawThingsParser,
    EasyDiffusionParser,
    MidjourneyParser,
)
UUID = "3f1c2b7a-9d4e-4c1a-8b2f-0e6d5a4c3b21"


def canvas() -> Image.Image:
    return Image.radial_gradient("L").resize((48, 48)).convert("RGB")


def png(chunks: dict[str, str] | None = None, **kw: Any) -> ImageMetadata:
    info = PngInfo()
    for key, value in (chunks or {}).items():
        info.add_itxt(key, value) if key == "XML:com.adobe.xmp" else info.add_text(key, value)
    buf = io.BytesIO()
    canvas().save(buf, "PNG", pnginfo=info, **kw)
    return read_metadata(buf.getvalue(), "fixture.png")


def encoded(fmt: str, **kw: Any) -> ImageMetadata:
    buf = io.BytesIO()
    canvas().save(buf, fmt, **kw)
    return read_metadata(buf.getvalue(), f"fixture.{fmt.lower()}")


def unicode_comment(text: str) -> Image.Exif:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + text.encode("utf-16-be")
    return exif


# --- Fooocus ---------------------------------------------------------------------------------

FOOOCUS = {
    "prompt": "a red bicycle leaning on a fence",
    "negative_prompt": "blurry",
    "full_prompt": ["a red bicycle leaning on a fence, sharp"],
    "styles": "['Fooocus V2']",
    "performance": "Speed",
    "steps": 30,
    "resolution": "(1152, 896)",
    "guidance_scale": 4,
    "sharpness": 2,
    "base_model": "landscapeXL_v8",
    "base_model_hash": "aeb7e9e689",
    "refiner_model": "None",
    "sampler": "dpmpp_2m_sde_gpu",
    "scheduler": "karras",
    "vae": "Default (model)",
    "seed": "6952411511246973023",
    "loras": [["sd_xl_offset_example-lora_1.0", 0.1, "4852686128"]],
    "metadata_scheme": "fooocus",
    "version": "Fooocus v2.5.5",
}


def check_fooocus(p: GenerationParams, source: str) -> None:
    assert (p.generator, p.source, p.version) == ("fooocus", source, "Fooocus v2.5.5")
    assert (p.prompt, p.negative_prompt) == ("a red bicycle leaning on a fence", "blurry")
    assert (p.seed, p.steps, p.cfg, p.sampler, p.scheduler) == (
        6952411511246973023,
        30,
        4.0,
        "dpmpp_2m_sde_gpu",
        "karras",
    )
    assert (p.width, p.height, p.vae) == (1152, 896, None)
    assert (p.model, p.model_hash, p.model_hash_scheme) == (
        "landscapeXL_v8",
        "aeb7e9e689",
        "autov2",
    )
    assert [(x.name, x.weight, x.hash) for x in p.loras] == [
        ("sd_xl_offset_example-lora_1.0", 0.1, "4852686128")
    ]


def test_fooocus_png_scheme() -> None:
    meta = png({"parameters": json.dumps(FOOOCUS), "fooocus_scheme": "fooocus"})
    (p,) = FooocusParser().parse(meta)
    check_fooocus(p, "png:parameters")
    assert p.extra["styles"] == "['Fooocus V2']"


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_fooocus_exif_variant(fmt: str) -> None:
    exif = Image.Exif()  # what Fooocus's get_exif() writes
    exif[0x9286] = json.dumps(FOOOCUS)
    exif[0x0131] = "Fooocus v2.5.5"
    exif[0x927C] = "fooocus"
    (p,) = FooocusParser().parse(encoded(fmt, exif=exif))
    check_fooocus(p, "exif:UserComment")


def test_fooocus_a1111_scheme_is_left_to_the_a1111_parser() -> None:
    infotext = (
        "a red bicycle\nSteps: 30, Sampler: DPM++ 2M SDE Karras, Seed: 1, Version: Fooocus v2"
    )
    assert FooocusParser().parse(png({"parameters": infotext, "fooocus_scheme": "a1111"})) == []
    exif = Image.Exif()
    exif[0x9286], exif[0x0131], exif[0x927C] = infotext, "Fooocus v2.5.5", "a1111"
    assert FooocusParser().parse(encoded("JPEG", exif=exif)) == []


def test_fooocus_older_loras_unmarked_json_and_broken_json() -> None:
    old = {
        **FOOOCUS,
        "loras": None,
        "lora_combined_1": "sd_xl_offset.safetensors : 0.1",
        "lora_combined_2": "False : muted.safetensors : 1",
        "lora_combined_3": "None : 1",
    }
    del old["metadata_scheme"]
    (p,) = FooocusParser().parse(png({"parameters": json.dumps(old)}))  # no fooocus_scheme chunk
    assert [(x.name, x.weight) for x in p.loras] == [("sd_xl_offset.safetensors", 0.1)]
    with pytest.raises(ProvenanceError, match="not valid JSON"):
        FooocusParser().parse(
            png({"parameters": json.dumps(FOOOCUS)[:-9], "fooocus_scheme": "fooocus"})
        )
    assert FooocusParser().parse(png({"parameters": "[1]", "fooocus_scheme": "fooocus"})) == []
    odd = {**FOOOCUS, "seed": None, "steps": "x", "resolution": [1, 2, 3], "loras": [[None], "x"]}
    (p,) = FooocusParser().parse(png({"parameters": json.dumps(odd), "fooocus_scheme": "fooocus"}))
    assert (p.seed, p.steps, p.width, p.loras) == (None, None, None, [])


# --- SwarmUI ---------------------------------------------------------------------------------

SWARM = {
    "sui_image_params": {
        "prompt": "a lighthouse on a cliff at dusk",
        "negativeprompt": "blurry",
        "model": "OfficialStableDiffusion/sd_xl_base_1.0",
        "seed": 1234567,
        "steps": 24,
        "cfgscale": 6.5,
        "aspectratio": "Custom",
        "width": 1024,
        "height": 768,
        "sampler": "dpmpp_2m",
        "scheduler": "karras",
        "loras": ["ink_style", "detail"],
        "loraweights": ["0.8", "0.4"],
        "swarm_version": "0.9.5.2",
    },
    "sui_extra_data": {"date": "2025-01-25", "generation_time": "4.84 sec"},
    "sui_models": [
        {"name": "sd_xl_base_1.0.safetensors", "param": "model", "hash": "0xD7A9" + "0" * 60},
        {"name": "ink_style.safetensors", "param": "loras", "hash": "0x" + "1" * 64},
    ],
}


def check_swarm(p: GenerationParams, source: str) -> None:
    assert (p.generator, p.source, p.version) == ("swarmui", source, "0.9.5.2")
    assert (p.prompt, p.negative_prompt, p.seed, p.steps, p.cfg) == (
        "a lighthouse on a cliff at dusk",
        "blurry",
        1234567,
        24,
        6.5,
    )
    assert (p.width, p.height, p.sampler, p.scheduler) == (1024, 768, "dpmpp_2m", "karras")
    assert p.model == "OfficialStableDiffusion/sd_xl_base_1.0"
    assert (p.model_hash, p.model_hash_scheme) == ("d7a9" + "0" * 60, "modelspec-sha256")
    assert [(x.name, x.weight, x.hash) for x in p.loras] == [
        ("ink_style", 0.8, "1" * 64),
        ("detail", 0.4, None),
    ]
    assert p.extra["aspectratio"] == "Custom" and "sui_extra_data" in p.extra


def test_swarmui_png_and_jpeg() -> None:
    (p,) = SwarmUIParser().parse(png({"parameters": json.dumps(SWARM)}))
    check_swarm(p, "png:parameters")
    (p,) = SwarmUIParser().parse(encoded("JPEG", exif=unicode_comment(json.dumps(SWARM))))
    check_swarm(p, "exif:UserComment")
    exif = Image.Exif()
    exif[0x0110] = json.dumps(SWARM)
    (p,) = SwarmUIParser().parse(encoded("WEBP", exif=exif))
    check_swarm(p, "exif:0x0110")


def test_swarmui_refuses_what_it_does_not_own_and_reports_broken_json() -> None:
    assert SwarmUIParser().parse(png({"parameters": "a cat\nSteps: 20, Seed: 1"})) == []
    assert SwarmUIParser().parse(png({"parameters": json.dumps(FOOOCUS)})) == []
    with pytest.raises(ProvenanceError, match="not valid JSON"):
        SwarmUIParser().parse(png({"parameters": json.dumps(SWARM)[:-50]}))
    with pytest.raises(ProvenanceError, match="not an object"):
        SwarmUIParser().parse(png({"parameters": '{"sui_image_params": [1, 2]}'}))
    odd = {"sui_image_params": {"seed": [1], "loras": "a, b", "loraweights": None}, "sui_models": 5}
    (p,) = SwarmUIParser().parse(png({"parameters": json.dumps(odd)}))
    assert (p.seed, [x.name for x in p.loras]) == (None, ["a", "b"])


# --- Draw Things -----------------------------------------------------------------------------


def xmp(inner: str) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        '22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/'
        '1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/"'
        f">{inner}</rdf:Description></rdf:RDF></x:xmpmeta>"
    )


DRAW = {
    "c": "a lighthouse & a boat <at dawn>",
    "uc": "blurry",
    "seed": 1172910896,
    "steps": 8,
    "model": "flux_1_schnell_q5p.ckpt",
    "sampler": "Euler A Trailing",
    "scale": 1,
    "size": "1024x768",
    "strength": 1,
    "lora": [{"file": "watercolor_lora_f16.ckpt", "weight": 0.6}],
}


def draw_xmp(settings: str) -> str:
    escaped = settings.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return xmp(
        "<dc:description><rdf:Alt><rdf:li xml:lang='x-default'>summary</rdf:li></rdf:Alt>"
        "</dc:description><xmp:CreatorTool>Draw Things</xmp:CreatorTool><exif:UserComment>"
        f"<rdf:Alt><rdf:li xml:lang='x-default'>{escaped}</rdf:li></rdf:Alt></exif:UserComment>"
    )


def test_draw_things_png_and_jpeg_xmp() -> None:
    packet = draw_xmp(json.dumps(DRAW))
    for meta in (png({"XML:com.adobe.xmp": packet}), encoded("JPEG", xmp=packet.encode())):
        (p,) = DrawThingsParser().parse(meta)
        assert (p.generator, p.source) == ("drawthings", "xmp:exif:UserComment")
        assert (p.prompt, p.negative_prompt) == ("a lighthouse & a boat <at dawn>", "blurry")
        assert (p.seed, p.steps, p.cfg, p.sampler) == (1172910896, 8, 1.0, "Euler A Trailing")
        assert (p.model, p.width, p.height) == ("flux_1_schnell_q5p.ckpt", 1024, 768)
        assert [(x.name, x.weight) for x in p.loras] == [("watercolor_lora_f16.ckpt", 0.6)]


def test_draw_things_summary_fallback_broken_json_and_strangers() -> None:
    summary = xmp(
        "<xmp:CreatorTool>Draw Things</xmp:CreatorTool><dc:description><rdf:Alt><rdf:li>"
        "three blue cubes&#xA;-blurry&#xA;Steps: 20, Sampler: Euler Ancestral, Guidance Scale: "
        "4.0, Seed: 42, Size: 512x512, Model: cubes_v1.ckpt</rdf:li></rdf:Alt></dc:description>"
    )
    (p,) = DrawThingsParser().parse(png({"XML:com.adobe.xmp": summary}))
    assert (p.source, p.prompt, p.negative_prompt) == (
        "xmp:dc:description",
        "three blue cubes",
        "blurry",
    )
    assert (p.steps, p.seed, p.cfg, p.model, p.width) == (20, 42, 4.0, "cubes_v1.ckpt", 512)
    with pytest.raises(ProvenanceError):
        DrawThingsParser().parse(png({"XML:com.adobe.xmp": draw_xmp(json.dumps(DRAW)[:-5])}))
    plain = xmp("<xmp:CreatorTool>Adobe Photoshop 25.0</xmp:CreatorTool>")
    assert DrawThingsParser().parse(png({"XML:com.adobe.xmp": plain})) == []
    assert (
        xmp_property(xmp('<rdf:Description exif:UserComment="a &amp; b"/>'), "exif:UserComment")
        == "a & b"
    )


# --- Easy Diffusion --------------------------------------------------------------------------

EASY = {
    "prompt": "a red bicycle leaning on a fence",
    "negative_prompt": "blurry",
    "seed": 30519,
    "use_stable_diffusion_model": "sd-v1-5",
    "clip_skip": False,
    "use_vae_model": "vae-ft-mse-840000-ema-pruned",
    "sampler_name": "euler_a",
    "width": 512,
    "height": 768,
    "num_inference_steps": 25,
    "guidance_scale": 7.5,
    "use_lora_model": ["ink_style", "detail"],
    "lora_alpha": [0.5, 0.25],
    "use_embeddings_model": None,
    "tiling": "None",
    "use_face_correction": None,
    "use_upscale": None,
}


def check_easy(p: GenerationParams, source: str) -> None:
    assert (p.generator, p.source) == ("easydiffusion", source)
    assert (p.prompt, p.negative_prompt, p.seed, p.steps, p.cfg) == (
        "a red bicycle leaning on a fence",
        "blurry",
        30519,
        25,
        7.5,
    )
    assert (p.model, p.vae, p.sampler, p.width, p.height) == (
        "sd-v1-5",
        "vae-ft-mse-840000-ema-pruned",
        "euler_a",
        512,
        768,
    )
    assert [(x.name, x.weight) for x in p.loras] == [("ink_style", 0.5), ("detail", 0.25)]
    assert p.embeddings == []


def test_easy_diffusion_png_chunks_and_jpeg_comment() -> None:
    meta = png({k: str(v) for k, v in EASY.items()})  # sdkit writes str(value) per key
    (p,) = EasyDiffusionParser().parse(meta)
    check_easy(p, "png:text")
    assert ComfyUIParser().parse(meta) == []  # its plain "prompt" chunk is not a graph
    (p,) = EasyDiffusionParser().parse(encoded("JPEG", exif=unicode_comment(json.dumps(EASY))))
    check_easy(p, "exif:UserComment")


def test_easy_diffusion_text_labels_and_strangers() -> None:
    labelled = {
        "Prompt": "three blue cubes",
        "Seed": "7",
        "Stable Diffusion model": "cubes",
        "Steps": "20",
        "LoRA model": "a, b",
        "LoRA Strength": "0.5, 0.7",
    }
    (p,) = EasyDiffusionParser().parse(png(labelled))
    assert (p.prompt, p.seed, p.model, p.steps) == ("three blue cubes", 7, "cubes", 20)
    assert [(x.name, x.weight) for x in p.loras] == [("a", 0.5), ("b", 0.7)]
    assert EasyDiffusionParser().parse(png({"prompt": '{"3": {"class_type": "KSampler"}}'})) == []
    with pytest.raises(ProvenanceError):
        EasyDiffusionParser().parse(encoded("JPEG", exif=unicode_comment(json.dumps(EASY)[:-4])))


# --- Midjourney ------------------------------------------------------------------------------

MJ_XMP = xmp(
    "<Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/"
    "trainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType>"
    f"<Iptc4xmpExt:DigImageGUID>{UUID}</Iptc4xmpExt:DigImageGUID>"
)
MJ_TEXT = f"a quiet harbour at dawn, watercolor --ar 16:9 --stylize 250 --v 6.1 Job ID: {UUID}"


def test_midjourney_png_description_and_xmp() -> None:
    chunks = {
        "Description": MJ_TEXT,
        "Author": "shapes_fan",
        "Creation Time": "2025-01-02",
        "XML:com.adobe.xmp": MJ_XMP,
    }
    (p,) = MidjourneyParser().parse(png(chunks))
    assert (p.generator, p.source, p.prompt) == (
        "midjourney",
        "png:Description",
        "a quiet harbour at dawn, watercolor",
    )
    assert (p.version, p.model) == ("6.1", "Midjourney v6.1")
    assert p.extra["parameters"] == {"ar": "16:9", "stylize": "250", "v": "6.1"}
    assert (p.extra["job_id"], p.extra["author"], p.extra["dig_image_guid"]) == (
        UUID,
        "shapes_fan",
        UUID,
    )


def test_midjourney_xmp_only_and_non_midjourney_ai_xmp() -> None:
    described = MJ_XMP.replace(
        "</rdf:Description>",
        "<dc:description><rdf:Alt><rdf:li>three blue cubes --niji 6 --seed 99</rdf:li></rdf:Alt>"
        "</dc:description><dc:creator><rdf:Seq><rdf:li>shapes_fan</rdf:li></rdf:Seq></dc:creator>"
        "</rdf:Description>",
    )
    (p,) = MidjourneyParser().parse(encoded("JPEG", xmp=described.encode()))
    assert (p.source, p.prompt, p.seed, p.version) == (
        "xmp:dc:description",
        "three blue cubes",
        99,
        "niji 6",
    )
    assert p.extra["author"] == "shapes_fan"
    bare = MJ_XMP.replace(
        "</rdf:Description>",
        "<dc:creator><rdf:Seq><rdf:li>shapes_fan</rdf:li></rdf:Seq></dc:creator></rdf:Description>",
    )
    (p,) = MidjourneyParser().parse(png({"XML:com.adobe.xmp": bare}))
    assert (p.source, p.prompt, p.extra["dig_image_guid"]) == ("xmp:DigImageGUID", None, UUID)
    assert not p.has_generation_parameters()  # a mark, not parameters: indicative only
    other_ai = xmp(
        "<Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/"
        "trainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType>"
    )
    assert MidjourneyParser().parse(png({"XML:com.adobe.xmp": other_ai, "Author": "x"})) == []
    assert (
        MidjourneyParser().parse(png({"Description": "a holiday photo --ar is not a flag"})) == []
    )


def jpeg_with_iptc_caption(caption: str) -> bytes:
    """A JPEG with an APP13 Photoshop IRB holding IPTC-IIM 2:120 (Caption-Abstract), by hand."""
    data = caption.encode()
    iim = b"\x1c\x02\x78" + struct.pack(">H", len(data)) + data
    irb = b"8BIM" + struct.pack(">H", 0x0404) + b"\0\0" + struct.pack(">I", len(iim)) + iim
    irb += b"\0" * (len(iim) % 2)
    segment = b"Photoshop 3.0\0" + irb
    app13 = b"\xff\xed" + struct.pack(">H", len(segment) + 2) + segment
    buf = io.BytesIO()
    canvas().save(buf, "JPEG")
    jpeg = buf.getvalue()
    return jpeg[:2] + app13 + jpeg[2:]


def test_midjourney_iptc_caption() -> None:
    meta = read_metadata(jpeg_with_iptc_caption(MJ_TEXT), "mj.jpg")
    (p,) = MidjourneyParser().parse(meta)
    assert (p.source, p.extra["job_id"], p.version) == ("iptc:2:120", UUID, "6.1")


# --- the corpus ------------------------------------------------------------------------------


def families(path: Path) -> set[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # old camera EXIF makes Pillow chatty
        try:
            meta = read_metadata(path.read_bytes(), path.name)
        except ProvenanceError:
            return set()
    return {p.generator for cls in PARSERS for p in cls().parse(meta)}


@needs_corpus
def test_every_othergen_file_gets_exactly_its_family() -> None:
    with (CORPUS / "othergen" / "LABELS.tsv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == 18
    for row in rows:
        expected = {"InvokeAI": "invokeai", "Fooocus": "fooocus", "Civitai": "comfyui"}
        family = next(v for k, v in expected.items() if k in row["generator_format"])
        assert families(CORPUS / "othergen" / row["local_file"]) == {family}, row["local_file"]


@needs_corpus
def test_fooocus_corpus_values_match_an_independent_reading() -> None:
    # `exiftool -a -G1 -s -b -Parameters fooocus1_cropped.png`, read with python's json
    path = CORPUS / "othergen" / "sd-parsers" / "Fooocus" / "fooocus1_cropped.png"
    (p,) = FooocusParser().parse(read_metadata(path.read_bytes(), path.name))
    assert (p.seed, p.steps, p.model, p.loras) == (
        6952411511246973023,
        30,
        "juggernautXL_v8Rundiffusion",
        [],
    )
    assert (p.prompt or "")[:20] == "a smiling goldfish"
    assert (p.width, p.height, p.model_hash) == (768, 1280, "aeb7e9e689")


@needs_corpus
@pytest.mark.parametrize("folder", ["real", "a1111", "synthetic", "c2pa", "pdq"])
def test_no_parser_fires_where_there_is_none_of_their_metadata(folder: str) -> None:
    skip = {".tsv", ".txt", ".md", ".json", ".py", ".out", ".pem", ".key", ".csv", ".mp4"}
    files = [
        f
        for f in sorted((CORPUS / folder).rglob("*"))
        if f.is_file() and f.suffix.lower() not in skip
    ]
    assert files
    hits = {str(f.relative_to(CORPUS)): fams for f in files if (fams := families(f))}
    assert hits == {}


WS = " " * (2 << 20)
HOSTILE: dict[str, dict[str, Any]] = {
    "whitespace description": {"text": {"Description": "a" + WS + "Job ID:" + WS + "--v" + WS}},
    "repeated xmp tags": {"xmp": "trainedAlgorithmicMedia" + "<dc:description>" * 300_000},
    "whitespace model name": {"text": {"Software": "NovelAI", "Source": "a" + WS + "b"}},
    "dream options": {"text": {"Dream": "a" + " -s" * 500_000}},
    "unclosed dream quote": {"text": {"Dream": '"' + "a [" * 500_000}},
    "million loras": {
        "text": {"parameters": json.dumps({"sui_image_params": {"loras": "a," * 1_000_000}})}
    },
    "easy lists": {
        "text": {"use_stable_diffusion_model": "x", "use_lora_model": "['a', " * 400_000}
    },
    "draw summary": {
        "xmp": "<xmp:CreatorTool>Draw Things</xmp:CreatorTool><dc:description>x\nSteps:"
        + "a " * 1_000_000
        + "</dc:description>"
    },
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_text_costs_bounded_time(case: str) -> None:
    meta = ImageMetadata(format="PNG", width=1, height=1, mode="RGB", name="x", **HOSTILE[case])
    start = time.perf_counter()
    for cls in PARSERS:
        with contextlib.suppress(ProvenanceError):
            cls().parse(meta)
    assert time.perf_counter() - start < 10.0  # hang guard, not a speed target
