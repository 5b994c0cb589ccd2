"""The demo's AI-evidence samples reach the verdict each one is meant to show."""

from __future__ import annotations

import hashlib
from pathlib import Path

from veriscan.analyzers.base import FileContext
from veriscan.analyzers.filetype import sniff_mime
from veriscan.analyzers.provenance.analyzer import ProvenanceAnalyzer
from veriscan.demo.ai import A1111_FILE, COMFY_FILE, IPTC_FILE, STRIPPED_FILE, add_ai_samples
from veriscan.domain import Attribute
from veriscan.settings import Settings

EXPECTED = {
    A1111_FILE: ("conclusive", "automatic1111"),
    COMFY_FILE: ("conclusive", "comfyui"),
    IPTC_FILE: ("strong", None),
    STRIPPED_FILE: ("indicative", None),
}


def test_each_sample_gets_its_verdict(tmp_path: Path) -> None:
    add_ai_samples(tmp_path)
    settings = Settings()
    for rel, (verdict, generator) in EXPECTED.items():
        data = (tmp_path / rel).read_bytes()
        ctx = FileContext(Path(rel).name, data, sniff_mime(data[:4096]), settings)
        facts = ProvenanceAnalyzer(settings).analyze(ctx)
        ai = next(f.value for f in facts if isinstance(f, Attribute) and f.name == "ai")
        assert ai["verdict"] == verdict, (rel, ai["explanation"])
        if generator:
            assert ai["generator"] == generator
    params = ai_params(tmp_path / A1111_FILE)
    assert (params["seed"], params["steps"], params["model"]) == (
        1234567890,
        28,
        "demoLandscapes_v1",
    )
    assert params["loras"][0]["name"] == "demoBrushwork"


def ai_params(path: Path) -> dict[str, object]:
    data = path.read_bytes()
    settings = Settings()
    facts = ProvenanceAnalyzer(settings).analyze(
        FileContext(path.name, data, "image/png", settings)
    )
    ai = next(f.value for f in facts if isinstance(f, Attribute) and f.name == "ai")
    return dict(ai["params"][0])


def test_samples_are_deterministic(tmp_path: Path) -> None:
    def digests(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in add_ai_samples(root)
        }

    assert digests(tmp_path / "a") == digests(tmp_path / "b")
