from __future__ import annotations

from veriscan.analyzers.provenance.base import Evidence, GenerationParams, ImageMetadata
from veriscan.analyzers.provenance.cues import cue_evidence
from veriscan.analyzers.provenance.verdict import NONE_FOUND, Check, decide

CHECKS = [Check("C2PA manifest", "none"), Check("generator metadata", "none")]


def params(**kw: object) -> GenerationParams:
    return GenerationParams(generator="automatic1111", source="png:parameters", raw="x", **kw)  # type: ignore[arg-type]


def test_generation_parameters_are_conclusive() -> None:
    v = decide([params(prompt="a lighthouse", seed=3, steps=20)], [], CHECKS)
    assert v.verdict == "conclusive"
    assert v.generator == "automatic1111"
    assert "conclusive" in v.explanation and "seed 3" in v.explanation


def test_tool_name_without_parameters_is_only_indicative() -> None:
    v = decide([params()], [], CHECKS)
    assert v.verdict == "indicative"


def test_strongest_evidence_wins_and_names_its_generator() -> None:
    ev = [
        Evidence("filename", "indicative", "name", generator="comfyui"),
        Evidence("sd-watermark", "strong", "watermark", generator="sd-watermark"),
    ]
    v = decide([], ev, CHECKS)
    assert (v.verdict, v.generator) == ("strong", "sd-watermark")


def test_absence_is_never_called_real() -> None:
    v = decide([], [Evidence("c2pa", "none", "camera capture claim")], CHECKS)
    assert v.verdict == NONE_FOUND
    assert "absence of evidence" in v.explanation
    assert "C2PA manifest: none" in v.explanation
    assert "real" not in v.to_json()["verdict"]


def meta(name: str, w: int, h: int, exif: dict[int, object] | None = None) -> ImageMetadata:
    return ImageMetadata("PNG", w, h, "RGB", name, exif=dict(exif or {}))


def test_weak_cues() -> None:
    found = {e.signal: e for e in cue_evidence(meta("00012-1234567890.png", 512, 768))}
    assert found["filename"].generator == "automatic1111"
    assert "dimensions" in found
    assert all(e.strength == "indicative" for e in found.values())
    assert cue_evidence(meta("ComfyUI_00001_.png", 300, 200))[0].generator == "comfyui"
    camera = meta("IMG_0001.JPG", 1024, 768, {0x010F: "Canon", 0x0110: "EOS"})
    assert cue_evidence(camera) == []


def test_software_names_come_from_data_file() -> None:
    m = meta("x.png", 100, 100, {0x0131: "NovelAI"})
    (e,) = cue_evidence(m)
    assert (e.signal, e.generator, e.strength) == ("software-tag", "novelai", "indicative")
    assert cue_evidence(meta("x.png", 100, 100, {0x0131: "Adobe Photoshop 25.0"})) == []


def test_comfy_json_in_make_model_is_not_a_camera() -> None:
    m = meta("a.webp", 512, 512, {0x0110: 'prompt:{"1": {}}', 0x010F: "workflow:{}"})
    assert any(e.signal == "dimensions" for e in cue_evidence(m))
