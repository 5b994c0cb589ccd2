"""A1111 infotext: field mapping, writer variants, containers, hostile input, the shared corpus."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from veriscan.analyzers.provenance.a1111 import A1111Parser, parse_infotext
from veriscan.analyzers.provenance.base import (
    GenerationParams,
    ImageMetadata,
    Lora,
    ProvenanceError,
)
from veriscan.analyzers.provenance.infotext import split_params
from veriscan.analyzers.provenance.metadata import read_metadata
from veriscan.analyzers.provenance.stealth import read_stealth

REPO = Path(__file__).resolve().parents[4]
DATA = REPO.parent / "shared" / "data"
NO_CORPUS = f"benign shared corpus not present at {DATA} (fresh clone)"

PARAMS = (
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567890, "
    "Size: 512x768, Model hash: 31e35c80fc, Model: coastXL_v1, VAE: sdxl_vae.safetensors, "
    'Denoising strength: 0.4, Lora hashes: "coastStyle: abc123def456, skyBoost: 0011aabbccdd", '
    'TI hashes: "rocks: 1234abcd, waves: 99ff00ee", Version: v1.10.0'
)
INFOTEXT = (
    "a lighthouse on a cliff at sunset, <lora:coastStyle:0.8>, dramatic sky\n"
    "golden hour\n"
    "Negative prompt: blurry, low quality\n"
    "watermark\n" + PARAMS
)


def infotext(params: str, prompt: str = "a lighthouse on a cliff at sunset") -> GenerationParams:
    parsed = parse_infotext(f"{prompt}\nNegative prompt: fog\n{params}", "test")
    assert parsed is not None
    return parsed


def test_full_infotext_maps_every_field() -> None:
    p = parse_infotext(INFOTEXT, "png:parameters")
    assert p is not None
    assert (p.generator, p.source, p.raw) == ("automatic1111", "png:parameters", INFOTEXT)
    assert (
        p.prompt
        == "a lighthouse on a cliff at sunset, <lora:coastStyle:0.8>, dramatic sky\ngolden hour"
    )
    assert p.negative_prompt == "blurry, low quality\nwatermark"
    assert (p.steps, p.sampler, p.scheduler, p.cfg, p.seed) == (
        28,
        "DPM++ 2M",
        "Karras",
        6.5,
        1234567890,
    )
    assert (p.width, p.height, p.model, p.vae) == (512, 768, "coastXL_v1", "sdxl_vae.safetensors")
    assert (p.model_hash, p.model_hash_scheme, p.version) == ("31e35c80fc", "autov2", "v1.10.0")
    assert p.loras == [
        Lora("coastStyle", 0.8, "abc123def456"),
        Lora("skyBoost", None, "0011aabbccdd"),
    ]
    assert p.embeddings == ["rocks", "waves"]
    assert p.extra == {
        "Denoising strength": "0.4",
        "TI hashes": {"rocks": "1234abcd", "waves": "99ff00ee"},
        "app": "A1111",
    }


def test_civitai_hashes_json_and_resources() -> None:
    p = infotext(
        'Steps: 30, Seed: 7, Hashes: {"model": "0123456789", "lora:coastStyle": "aa11", '
        '"embed:rocks": "bb22", "vae": "cc33"}, Civitai resources: [{"type": "checkpoint", '
        '"modelVersionId": 128713, "modelName": "Lighthouse XL"}, {"type": "lora", "weight": 0.6, '
        '"modelVersionId": 99, "modelName": "Coast"}], Civitai metadata: {"remixOfId": 5}',
        prompt="a lighthouse, <lora:coastStyle:0.6>",
    )
    assert p.model_hash == "0123456789" and p.model_hash_scheme == "autov2"
    assert p.loras == [Lora("coastStyle", 0.6, "aa11")]
    assert p.embeddings == ["rocks"]
    assert p.extra["Hashes"]["vae"] == "cc33"
    assert p.extra["Civitai resources"][1]["modelName"] == "Coast"
    assert p.extra["Civitai metadata"] == {"remixOfId": 5}
    assert p.extra["app"] == "Civitai"


@pytest.mark.parametrize(
    ("params", "app", "version"),
    [
        ("Steps: 20, Seed: 1, CFG scale: 5, App: SD.Next, Version: 33c1d0f", "SD.Next", "33c1d0f"),
        (
            "Steps: 20, Seed: 1, Version: f2.0.1v1.10.1-previous-635-gf5330788",
            "Forge",
            "f2.0.1v1.10.1-previous-635-gf5330788",
        ),
        ("Steps: 20, Seed: 1, Version: v1.9.4-169-ga30b19dd", "A1111", "v1.9.4-169-ga30b19dd"),
        ("Steps: 20, Seed: 1, Version: Fooocus v2.5.5", "Fooocus", "Fooocus v2.5.5"),
        ("Steps: 20, Seed: 1, Version: 33c1d0f", None, "33c1d0f"),
        ("Steps: 20, Seed: 1, Sampler: Euler", None, None),
    ],
)
def test_app_is_named_only_when_identifiable(
    params: str, app: str | None, version: str | None
) -> None:
    p = infotext(params)
    assert p.extra.get("app") == app and p.version == version


@pytest.mark.parametrize(
    ("digest", "scheme"),
    [
        ("c0d1994c", "autov1"),
        ("c0d1994c73", "autov2"),
        ("3E15BA0038", "autov2"),
        ("c4d0b5c3791c", "autov3"),
        ("ab" * 32, "sha256"),
        ("c0d1994c7", None),
        ("not-a-hash", None),
    ],
)
def test_model_hash_scheme_by_length(digest: str, scheme: str | None) -> None:
    p = infotext(f"Steps: 20, Seed: 1, Model hash: {digest}")
    assert (p.model_hash, p.model_hash_scheme) == (digest, scheme)


def test_bad_numbers_stay_in_extra() -> None:
    p = infotext("Steps: twenty, Seed: 12x, CFG scale: nan, Size: big, Sampler: Euler")
    assert (p.steps, p.seed, p.cfg, p.width, p.height) == (None, None, None, None, None)
    assert p.extra == {"Steps": "twenty", "Seed": "12x", "CFG scale": "nan", "Size": "big"}
    assert infotext("Steps: 20, Seed: " + "9" * 5000 + ", Sampler: Euler").seed is None


def test_unterminated_quote_does_not_swallow_the_rest() -> None:
    p = infotext('Steps: 20, Lora hashes: "coast: abc, Seed: 42, Sampler: Euler a')
    assert (p.steps, p.seed, p.sampler) == (20, 42, "Euler a")
    assert any("unterminated" in w for w in p.extra["parse_warnings"])


def test_quoted_values_keep_commas_and_escapes() -> None:
    p = infotext(
        'Steps: 20, Hardware Info: "GPU \\"A\\", 24GB", Seed: 3, '
        'ADetailer prompt: "a sailboat,\\nwhite sails", Hires upscaler: 4x, ESRGAN'
    )
    assert p.extra["Hardware Info"] == 'GPU "A", 24GB'
    assert p.extra["ADetailer prompt"] == "a sailboat,\nwhite sails"
    assert p.extra["Hires upscaler"] == "4x, ESRGAN"
    assert p.seed == 3


def test_split_params_is_ordered_and_tolerant() -> None:
    pairs, warnings = split_params('Steps: 1, Size: 2x3, K: "v, w", J: [1, 2], Bad: {"x": }, Z: 9')
    assert pairs == [
        ("Steps", "1"),
        ("Size", "2x3"),
        ("K", "v, w"),
        ("J", [1, 2]),
        ("Bad", '{"x": }'),
        ("Z", "9"),
    ]
    assert warnings == []


def test_controlnet_units_and_comfy_saver_loras() -> None:
    p = infotext(
        'Steps: 20, Seed: 5, ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny '
        '[d14c016b], Weight: 1.0", Lora_0 Model name: coastStyle.safetensors, Lora_0 Model hash: '
        "f1380a97cf, Lora_0 Strength model: 0.15, Lora_0 Strength clip: 0.2"
    )
    assert p.controlnets == ["control_v11p_sd15_canny [d14c016b]"]
    assert p.loras == [Lora("coastStyle", 0.15, "f1380a97cf")]
    assert p.extra["Lora_0 Strength clip"] == "0.2"
    assert p.extra["ControlNet 0"].startswith("Module: canny")


def test_sdnext_template_lines_are_not_the_negative_prompt() -> None:
    p = parse_infotext(
        "a lighthouse\nNegative prompt: \nTemplate: a {lighthouse|windmill}\non a cliff\n"
        "Steps: 20, Seed: 1, Scheduler: FlowMatchEulerDiscreteScheduler, App: SD.Next",
        "x",
    )
    assert p is not None
    assert p.negative_prompt is None
    assert p.extra["Template"] == "a {lighthouse|windmill}\non a cliff"
    assert p.scheduler == "FlowMatchEulerDiscreteScheduler"


def test_layout_variants() -> None:
    crlf = parse_infotext(
        "a lighthouse\r\nNegative prompt: fog\r\nSteps: 2, Seed: 3, Sampler: Euler", "x"
    )
    assert crlf is not None and (crlf.prompt, crlf.negative_prompt, crlf.seed) == (
        "a lighthouse",
        "fog",
        3,
    )
    only_params = parse_infotext("Steps: 30, Sampler: DDIM, CFG scale: 7.5, Size: 512x512", "x")
    assert only_params is not None and only_params.prompt is None and only_params.steps == 30
    no_params = parse_infotext("a lighthouse\nNegative prompt: fog", "x")
    assert no_params is not None and no_params.negative_prompt == "fog" and no_params.steps is None
    trailing = parse_infotext(
        "a lighthouse\nSteps: 2, Seed: 3, Sampler: Euler\nnote from a tool", "x"
    )
    assert trailing is not None and trailing.seed == 3
    assert trailing.extra["trailing_text"] == "note from a tool"
    dup = infotext("Steps: 2, Seed: 3, Seed: 4, Sampler: Euler")
    assert dup.seed == 3 and dup.extra["Seed #2"] == "4"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Shot on holiday at the lighthouse",
        "Note: a, Place: b, Time: c",
        '{"prompt": "a lighthouse", "extra": "Steps: 20, Sampler: Euler, Seed: 1"}',
        '[{"Steps": 20}]',
        '"a lighthouse on a cliff" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms',
        "OLYMPUS DIGITAL CAMERA",
    ],
)
def test_other_text_is_not_a1111(text: str) -> None:
    assert parse_infotext(text, "x") is None


@pytest.mark.parametrize(
    "text", ["Negative prompt:", "Negative prompt: \n\n", "\nNegative prompt:\t"]
)
def test_claimed_but_empty_raises(text: str) -> None:
    with pytest.raises(ProvenanceError):
        parse_infotext(text, "x")


def meta(**text: str) -> ImageMetadata:
    comment = text.pop("user_comment", None)
    return ImageMetadata("PNG", 1, 1, "RGB", "x.png", text=dict(text), user_comment=comment)


def test_parser_reports_each_place_in_order() -> None:
    found = A1111Parser().parse(
        meta(
            parameters=INFOTEXT,
            user_comment="a lighthouse\nSteps: 4, Seed: 9, Sampler: Euler",
            stealth="a windmill\nSteps: 5, Seed: 8, Sampler: Euler",
            stealth_kind="stealth_rgbcomp",
        )
    )
    assert [(p.source, p.seed) for p in found] == [
        ("png:parameters", 1234567890),
        ("exif:UserComment", 9),
        ("stealth:stealth_rgbcomp", 8),
    ]


def test_parser_skips_foreign_formats_and_keeps_good_sources() -> None:
    parser = A1111Parser()
    assert parser.parse(meta(parameters='{"prompt": "a lighthouse", "seed": 1}')) == []
    assert (
        parser.parse(meta(stealth='{"Software": "NovelAI"}', stealth_kind="stealth_pngcomp")) == []
    )
    [good] = parser.parse(meta(parameters="Negative prompt:", user_comment=INFOTEXT))
    assert good.source == "exif:UserComment"
    assert "png:parameters" in good.extra["parse_warnings"][0]
    with pytest.raises(ProvenanceError):
        parser.parse(meta(parameters="Negative prompt:"))
    fooocus = parser.parse(meta(parameters=INFOTEXT, fooocus_scheme="a1111"))
    assert fooocus[0].extra["app"] == "Fooocus"


def landscape(mode: str = "RGB") -> Image.Image:
    y = np.linspace(0, 1, 48)[:, None] + np.zeros((1, 64))
    sky = np.stack([90 + 100 * y, 150 + 60 * y, 240 - 80 * y], axis=-1).astype(np.uint8)
    return Image.fromarray(sky, "RGB").convert(mode)


UNICODE_TEXT = INFOTEXT.replace("golden hour", "golden hour, 灯台と夕焼け")


@pytest.mark.parametrize(
    ("add", "text"),
    [
        (lambda i, t: i.add_text("parameters", t), INFOTEXT),
        (lambda i, t: i.add_text("parameters", t, zip=True), INFOTEXT),
        (lambda i, t: i.add_itxt("parameters", t), UNICODE_TEXT),
        (lambda i, t: i.add_itxt("parameters", t, zip=True), UNICODE_TEXT),
    ],
    ids=["tEXt", "zTXt", "iTXt", "iTXt-compressed"],
)
def test_png_text_chunks(add: Callable[[PngImagePlugin.PngInfo, str], None], text: str) -> None:
    info = PngImagePlugin.PngInfo()
    add(info, text)
    buf = io.BytesIO()
    landscape().save(buf, "PNG", pnginfo=info)
    [p] = A1111Parser().parse(read_metadata(buf.getvalue(), "x.png"))
    assert p.source == "png:parameters" and p.raw == text and p.seed == 1234567890
    assert p.prompt is not None and p.prompt.endswith(text.split("\n")[1])


COMMENTS: dict[str, Callable[[str], bytes]] = {
    "unicode-be": lambda t: b"UNICODE\0" + t.encode("utf-16-be"),
    "unicode-le": lambda t: b"UNICODE\0" + t.encode("utf-16-le"),
    "unicode-bom": lambda t: b"UNICODE\0" + t.encode("utf-16"),
    "ascii": lambda t: b"ASCII\0\0\0" + t.encode("ascii"),
    "undefined": lambda t: b"\0" * 8 + t.encode("utf-8"),
}


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("encoding", list(COMMENTS))
def test_exif_user_comment(fmt: str, endian: str, encoding: str) -> None:
    text = UNICODE_TEXT if encoding.startswith("unicode") else INFOTEXT
    exif = Image.Exif()
    exif.endian = endian
    exif.get_ifd(0x8769)[0x9286] = COMMENTS[encoding](text)
    buf = io.BytesIO()
    landscape().save(buf, fmt, exif=exif.tobytes())
    [p] = A1111Parser().parse(read_metadata(buf.getvalue(), f"x.{fmt.lower()}"))
    assert p.source == "exif:UserComment"
    assert p.raw == text and p.loras[0] == Lora("coastStyle", 0.8, "abc123def456")


HOSTILE: dict[str, Callable[[], str]] = {
    "letters": lambda: "a" * 5_000_000,
    "pairs": lambda: "Steps: 1, " * 500_000,
    "open-quote": lambda: 'Steps: 1, Seed: 2, K: "' + "x, " * 1_700_000,
    "escapes": lambda: 'Steps: 1, Seed: 2, K: "' + '\\", ' * 1_250_000,
    "quote-runs": lambda: 'Steps: 1, K: "' * 350_000,
    "brackets": lambda: "Steps: 1, Seed: 2, K: " + "[" * 5_000_000,
    "objects": lambda: 'Steps: 1, K: {"a": ' * 250_000,
    "arrays": lambda: "Steps: 1, K: [1, " * 300_000,
    "json-doc": lambda: "[" * 2_500_000 + "]" * 2_500_000,
    "lora-tags": lambda: "<lora:" * 800_000 + "\nSteps: 1, Seed: 2, Sampler: x",
    "lora-open": lambda: "<lora:a:" + "b" * 5_000_000 + "\nSteps: 1, Seed: 2, Sampler: x",
    "long-keys": lambda: ("k" * 79 + " ") * 62_000,
    "colons": lambda: "k: " * 1_700_000,
    "newlines": lambda: "\n" * 5_000_000 + "Negative prompt: x",
    "steps-lines": lambda: "Steps: 1\n" * 550_000 + "junk",
    "negatives": lambda: "Negative prompt:\n" * 300_000,
    "commas": lambda: "Steps: 1, Seed: 2" + "," * 5_000_000,
    "spaces": lambda: 'Steps: 1, K: "a"' + " " * 5_000_000 + "x, Seed: 2",
    "quoted-json": lambda: 'Steps: 1, Seed: 2, K: "' + "[" * 5_000_000 + '"',
    "wide-json": lambda: "Steps: 1, Seed: 2, K: [" + "[1]," * 1_200_000 + "[1]]",
    "templates": lambda: "a\nNegative prompt: x\n" + "Template: y\n" * 400_000 + "Steps: 1",
    "prompt-lines": lambda: "a lighthouse\n" * 380_000 + "Steps: 1, Seed: 2, Sampler: x",
    "json-doc-wide": lambda: "[" + "[1]," * 1_200_000 + "[1]]",
    "binary": lambda: (
        random.Random(5).randbytes(5_000_000).decode("latin-1") + "\nSteps: 1, Seed: 2, Sampler: x"
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_text_is_linear_and_never_crashes(name: str) -> None:
    text = HOSTILE[name]()
    start = time.perf_counter()
    with contextlib.suppress(ProvenanceError):
        A1111Parser().parse(meta(parameters=text, user_comment=text[:1000]))
    assert time.perf_counter() - start < 10.0  # hang guard, not a speed target


def corpus_files(
    tsv: str, key: str, prefix: str, select: Callable[[dict[str, str]], bool] = lambda row: True
) -> list[Any]:
    """Corpus rows as test parameters (paths relative to the corpus root), or one skip."""
    path = DATA / tsv
    if not path.is_file():
        return [pytest.param("", marks=pytest.mark.skip(reason=NO_CORPUS))]
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [pytest.param(prefix + row[key], id=row[key]) for row in rows if select(row)]


def parse_file(relative: str) -> list[GenerationParams]:
    path = DATA / relative
    meta = read_metadata(path.read_bytes(), path.name)
    if meta.format == "PNG" and meta.pixels is not None:
        payload = read_stealth(meta.pixels())
        if payload is not None:
            meta.text.update(stealth=payload.text, stealth_kind=payload.kind)
    return A1111Parser().parse(meta)


def claims_infotext(row: dict[str, str]) -> bool:
    label = row["provenance_metadata"]
    return ("A1111" in label or "infotext" in label) and "no infotext" not in label


A1111_FILES = corpus_files("a1111/LABELS.tsv", "local_file", "a1111/")
INFOTEXT_FILES = corpus_files(
    "synthetic/ALL_AI_IMAGES.tsv", "path_from_datahunt_root", "", claims_infotext
)
REAL_PHOTOS = corpus_files("real/LABELS.tsv", "local_file", "real/")


@pytest.mark.parametrize(
    "relative", list({str(p.values[0]): p for p in A1111_FILES + INFOTEXT_FILES}.values())
)
def test_corpus_infotext_files_parse(relative: str) -> None:
    found = parse_file(relative)
    assert found, relative
    assert all(p.generator == "automatic1111" and p.has_generation_parameters() for p in found)
    json.dumps([p.to_json() for p in found])  # extra holds only JSON-ready values


# Expected values read with `exiftool -a -G1 -s -b -Parameters -UserComment FILE` (the stealth
# vector with a per-pixel Python loop), not with this parser. Prompts are compared on their first
# 20 characters; None skips the prompt where it describes a person.
EXPECTED = [
    ("a1111/sd-parsers/automatic1111_cropped.png", "png:parameters", 235284042, 15, "UniPC",
     "realistic_realisticVisionV20_v20", "c0d1994c73", [], "photo of a duck"),
    ("a1111/sd-parsers/automatic1111_cropped.jpg", "exif:UserComment", 235284042, 15, "UniPC",
     "realistic_realisticVisionV20_v20", "c0d1994c73", [], "photo of a duck"),
    ("a1111/sd-parsers/automatic1111_stealth.png", "stealth:stealth_pngcomp", 2015833630, 20,
     "Euler", "realisticVisionV51_v51VAE", "15012c538f", [], "a circle"),
    ("a1111/dataset-tools/a1111_krhistia_png.png", "png:parameters", 1912648290, 30, "Euler a",
     "NightmareFuelIllust.fp16", "cde528265a",
     ["The_Many_Colors_of_Krhis_Tia_FFXIV_OC_Illustrious"], "masterpiece, very ae"),
    ("a1111/dataset-tools/test_img_A1111_simple_SDXL.png", "png:parameters", 970527942, 30,
     "Euler a", "HellaineMixXL-FIX.fp16", "238ffac319", [], "Hell4ineXLPOS  solo,"),
    ("a1111/dataset-tools/a111_yodayo_test_thancred.jpeg", "exif:UserComment", 2679052167, 25,
     "Euler a", "7923f665-e1d7-4171-8616-6470e44bc86e", "a8da90435b",
     ["0c724101-f951-443a-a432-ed908b9735d3"], "masterpiece, very ae"),
    ("a1111/dataset-tools/Civitai_Kohyass_API.png", "exif:UserComment", None, 30, "DDIM",
     "889818.safetensors", "3E15BA0038", [], "masterpiece, best qu"),
    ("a1111/sd-webui-controlnet/dog_rel.png", "png:parameters", 925894899, 20, "DPM++ SDE", None,
     "679c66ec9a", [], "highly detailed, mas"),
    ("comfy/_dataset-tools/ComfyUI_01803_.jpeg", "exif:UserComment", 73206741999756, 28, "Euler",
     "flux_dev.safetensors", "4610115bb0",
     ["flux-photo_v6", "realism_lora_comfy flux_converted", "Sinfully_Stylish_.02_for_FLUX-000002",
      "InSaNe_Detail_FLUX-000001", "mjv6_lora flux.safetensors_converted"], None),
    ("synthetic/sdnext-reference/XCLiu--instaflow_0_9B_from_sd_1_5.jpg", "exif:UserComment",
     3583675056, 20, None, "instaflow_0_9B_from_sd_1_5", None, [], "Art. Painting of an "),
    ("synthetic/sdnext-reference/amused--amused-512.jpg", "exif:UserComment", 376885285, 32, None,
     "amused-512", None, [], "single rose on white"),
    ("synthetic/sdnext-reference/juggernaut_reborn.jpg", "exif:UserComment", 1409913055, 50, None,
     "juggernaut_reborn", "338b85bc4f", [], "juggernaut on the da"),
    ("synthetic/sdnext-reference/Boogu--Boogu-Image-0.1-Edit.jpg", "exif:UserComment", 2026, 50,
     None, "6374C9D1F4", "6374C9D1F4", [], "middle painting repl"),
    ("synthetic/sdnext-reference/Tencent-Hunyuan--HunyuanDiT-v1.1-Diffusers.jpg",
     "exif:UserComment", 1635566168, 25, None, "HunyuanDiT-v1.1-Diffusers", None, [],
     "枯藤老树昏鸦，小桥流水人家"),  # noqa: RUF001
    ("synthetic/sdnext-reference/noobaiXLNAIXL_vPred10Version.jpg", "exif:UserComment", 42, 28,
     "Euler", "noobaiXLNAIXL_vPred10Version", "ea349eeae8", [], "masterpiece, best qu"),
    ("synthetic/sdnext-reference/shuttleai--shuttle-jaguar.jpg", "exif:UserComment", 40, 4, None,
     "shuttle-jaguar", None, [], "surreal art of lands"),
    ("synthetic/sdnext-reference/DeepFloyd--IF-I-L-v1.0.jpg", "exif:UserComment", 1645606335, 32,
     None, "IF-I-L-v1.0", None, [], "18th century smoking"),
]  # fmt: skip


@pytest.mark.skipif(not (DATA / "MANIFEST.tsv").is_file(), reason=NO_CORPUS)
@pytest.mark.parametrize("row", EXPECTED, ids=[Path(r[0]).name for r in EXPECTED])
def test_corpus_expected_values(row: tuple[Any, ...]) -> None:
    relative, source, seed, steps, sampler, model, model_hash, loras, prompt = row
    [p] = parse_file(relative)
    assert (p.source, p.seed, p.steps, p.sampler) == (source, seed, steps, sampler)
    assert (p.model, p.model_hash) == (model, model_hash)
    assert [lora.name for lora in p.loras] == loras
    if prompt is not None:
        assert (p.prompt or "")[:20] == prompt


@pytest.mark.skipif(not (DATA / "MANIFEST.tsv").is_file(), reason=NO_CORPUS)
def test_corpus_writer_details() -> None:
    [krhistia] = parse_file("a1111/dataset-tools/a1111_krhistia_png.png")
    assert krhistia.loras == [
        Lora("The_Many_Colors_of_Krhis_Tia_FFXIV_OC_Illustrious", 0.7, "c4d0b5c3791c")
    ]
    assert (krhistia.version, krhistia.extra["app"], krhistia.extra["ADetailer version"]) == (
        "v1.10.0",
        "A1111",
        "25.3.0",
    )
    [sdxl] = parse_file("a1111/dataset-tools/test_img_A1111_simple_SDXL.png")
    assert sdxl.embeddings == ["Hell4ineXLPOS"]
    assert sdxl.extra["Hashes"] == {
        "model": "238ffac319",
        "embed:Hell4ineXLPOS": "23f5e3fc03",
        "vae": "63aeecb90f",
    }
    assert sdxl.extra["Hardware Info"] == "RTX 4090 24GB, Threadripper PRO 5975WX 32-s, 252GB RAM"
    [dog] = parse_file("a1111/sd-webui-controlnet/dog_rel.png")
    assert dog.controlnets == ["control_sd15_scribble(fef5e48e)"]
    [fibo] = parse_file("synthetic/sdnext-reference/briaai--Fibo-Edit.jpg")
    assert fibo.extra["app"] == "huggingface.co" and fibo.model_hash == "bbf0848b8d"
    [lens] = parse_file("synthetic/sdnext-reference/microsoft--Lens.jpg")
    assert lens.negative_prompt is None and lens.extra["Template"].count("\n") == 9
    assert lens.extra["app"] == "SD.Next" and lens.version == "a3a1287"


@pytest.mark.skipif(not (DATA / "MANIFEST.tsv").is_file(), reason=NO_CORPUS)
def test_corpus_files_without_infotext() -> None:
    assert parse_file("synthetic/sdnext-reference/X-Omni--X-Omni-SFT.jpg") == []
    for name in (
        "othergen/dataset-tools/CivitaiComfyui_Test.jpeg",
        "othergen/sd-parsers/Fooocus/fooocus1_cropped.png",
        "othergen/sd-parsers/InvokeAI/invokeai_sdmeta1.png",
        "othergen/sd-parsers/InvokeAI/invokeai_imeta1.png",
    ):
        assert parse_file(name) == [], name


@pytest.mark.parametrize("relative", REAL_PHOTOS)
def test_camera_photos_are_not_a1111(relative: str) -> None:
    path = DATA / relative
    try:
        meta = read_metadata(path.read_bytes(), path.name)
    except ProvenanceError:
        pytest.skip(f"{relative}: container not readable by Pillow")
    assert A1111Parser().parse(meta) == []
