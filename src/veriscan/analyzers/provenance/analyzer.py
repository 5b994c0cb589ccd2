"""The provenance analyzer: every AI-generation check on one image, combined into a verdict.

Order matters only for cost: metadata is read once (cheap); the LSB payload and the watermark need
decoded pixels, so they run on the kinds of file where they can exist and within a size bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from PIL import Image

from veriscan.analyzers.base import Analyzer, FileContext
from veriscan.analyzers.decode import Decoded, image_bytes, raw_preview, wants_image
from veriscan.analyzers.failures import INTERNAL, decode_failure, is_data_error, log_exception
from veriscan.analyzers.provenance.a1111 import A1111Parser
from veriscan.analyzers.provenance.base import (
    Evidence,
    GenerationParams,
    GeneratorParser,
    ImageMetadata,
    ProvenanceError,
)
from veriscan.analyzers.provenance.c2pa import read_c2pa
from veriscan.analyzers.provenance.comfyui import ComfyUIParser
from veriscan.analyzers.provenance.cues import cue_evidence, has_camera_exif
from veriscan.analyzers.provenance.fooocus import FooocusParser
from veriscan.analyzers.provenance.invokeai import InvokeAIParser
from veriscan.analyzers.provenance.iptc import evidence_for, source_types
from veriscan.analyzers.provenance.metadata import read_metadata
from veriscan.analyzers.provenance.novelai import NovelAIParser
from veriscan.analyzers.provenance.others import (
    DrawThingsParser,
    EasyDiffusionParser,
    MidjourneyParser,
)
from veriscan.analyzers.provenance.pixel import pixel_signal
from veriscan.analyzers.provenance.stealth import read_stealth
from veriscan.analyzers.provenance.swarmui import SwarmUIParser
from veriscan.analyzers.provenance.verdict import Check, decide
from veriscan.analyzers.provenance.watermark import detect_sd_watermark
from veriscan.analyzers.rawpreview import RAW_MIMES
from veriscan.domain import Attribute, Fact, Problem, ProblemCode

PARSERS: tuple[type[GeneratorParser], ...] = (
    A1111Parser,
    ComfyUIParser,
    InvokeAIParser,
    NovelAIParser,
    FooocusParser,
    SwarmUIParser,
    DrawThingsParser,
    EasyDiffusionParser,
    MidjourneyParser,
)
LSB_FORMATS = frozenset({"PNG", "WEBP", "TIFF", "BMP"})
PARSER_FAMILIES = ", ".join(p.family for p in PARSERS)


class ProvenanceAnalyzer(Analyzer):
    id: ClassVar[str] = "provenance"
    version: ClassVar[str] = "2"  # 2: the pixel detector's check and evidence
    requires: ClassVar[tuple[str, ...]] = ("detector",)  # reads the detector's score (cache)

    def wants(self, mime: str) -> bool:
        return wants_image(mime)

    def analyze(self, ctx: FileContext) -> list[Fact]:
        problems: list[Problem] = []
        checks: list[Check] = []
        data = ctx.data
        if ctx.mime in RAW_MIMES:  # Pillow cannot open these containers, only their preview
            raw = raw_preview(ctx)
            if raw is None or not raw.jpegs:
                return []  # a RAW without a preview: the image analyzer states it
            data = image_bytes(ctx)
        try:
            meta = read_metadata(data, ctx.name)
        except ProvenanceError as exc:
            return [Problem(self.id, str(exc), ProblemCode.PROVENANCE_UNREADABLE)]
        problems += [Problem(self.id, text, ProblemCode.METADATA_DAMAGED) for text in meta.problems]
        pixels = _once(meta, ctx)
        evidence: list[Evidence] = []

        self._stealth(meta, pixels, checks, problems)
        params = self._parse(meta, checks, problems)
        c2pa_present = self._c2pa(ctx, evidence, checks, problems)
        try:
            types = source_types(meta)
        except ProvenanceError as exc:  # a hostile XMP packet must not hide the other evidence
            problems.append(Problem(self.id, f"XMP: {exc}", ProblemCode.XMP_ERROR))
            types = []
        evidence += evidence_for(types, c2pa_present)
        checks.append(
            Check(
                "IPTC digital source type",
                ", ".join(sorted({t.term for t in types})) or "none",
            )
        )
        self._watermark(meta, pixels, evidence, checks, problems)
        evidence += cue_evidence(meta)
        checks.append(Check("software, file-name and size cues", "checked"))
        pixel_evidence, pixel_check, caveat = pixel_signal(ctx.cache)
        evidence += pixel_evidence
        checks.append(pixel_check)
        verdict = decide(params, evidence, checks, [caveat] if caveat else [])
        return [Attribute("ai", verdict.to_json()), *problems]

    def _stealth(
        self,
        meta: ImageMetadata,
        pixels: Callable[[], Image.Image],
        checks: list[Check],
        problems: list[Problem],
    ) -> None:
        if meta.format not in LSB_FORMATS:
            checks.append(Check("LSB (stealth) payload", f"not applicable to {meta.format}"))
            return
        try:
            payload = read_stealth(pixels())
        except ProvenanceError as exc:
            problems.append(
                Problem(self.id, f"LSB payload unreadable: {exc}", ProblemCode.STEALTH_ERROR)
            )
            checks.append(Check("LSB (stealth) payload", "signature found, payload unreadable"))
            return
        except Exception as exc:  # any decoder failure on hostile pixels costs this check only
            log_exception("LSB payload", meta.name, exc)
            checks.append(Check("LSB (stealth) payload", "pixels unreadable"))
            return
        if payload is None:
            checks.append(Check("LSB (stealth) payload", "none"))
            return
        meta.text["stealth"] = payload.text
        meta.text["stealth_kind"] = payload.kind
        checks.append(Check("LSB (stealth) payload", f"{payload.kind} found"))

    def _parse(
        self, meta: ImageMetadata, checks: list[Check], problems: list[Problem]
    ) -> list[GenerationParams]:
        found: list[GenerationParams] = []
        for parser_cls in PARSERS:
            try:
                found += parser_cls().parse(meta)
            except ProvenanceError as exc:
                problems.append(
                    Problem(
                        self.id, f"{parser_cls.family}: {exc}", ProblemCode.GENERATOR_METADATA_ERROR
                    )
                )
        families = sorted({p.generator for p in found})
        checks.append(
            Check(
                f"generator metadata ({PARSER_FAMILIES})",
                ", ".join(families) + " found" if families else "none",
            )
        )
        return found

    def _c2pa(
        self,
        ctx: FileContext,
        evidence: list[Evidence],
        checks: list[Check],
        problems: list[Problem],
    ) -> bool:
        trust = self.settings.c2pa_trust_anchors or None
        try:
            result = read_c2pa(ctx.data, ctx.mime, trust)
        except ProvenanceError as exc:
            problems.append(Problem(self.id, f"C2PA: {exc}", ProblemCode.C2PA_ERROR))
            checks.append(Check("C2PA manifest", "unreadable"))
            return False
        if result is None:
            checks.append(Check("C2PA manifest", "none"))
            return False
        evidence += result.evidence()
        checks.append(Check("C2PA manifest", f"present, {result.validation_state}"))
        return True

    def _watermark(
        self,
        meta: ImageMetadata,
        pixels: Callable[[], Image.Image],
        evidence: list[Evidence],
        checks: list[Check],
        problems: list[Problem],
    ) -> None:
        name = "Stable Diffusion invisible watermark"
        mode = self.settings.watermark
        if mode == "never":
            checks.append(Check(name, "not checked (watermark = never)"))
            return
        if mode == "auto" and has_camera_exif(meta):
            checks.append(Check(name, "not checked: camera EXIF present (watermark = always)"))
            return
        if meta.width * meta.height > self.settings.watermark_max_pixels:
            checks.append(Check(name, "not checked: larger than watermark_max_pixels"))
            return
        try:
            result = detect_sd_watermark(pixels())
        except Exception as exc:  # any decoder failure on hostile pixels costs this check only
            log_exception("watermark", meta.name, exc)
            why = decode_failure(exc, meta.format, len(meta.data))[1]
            wording = f"watermark check failed: {why if is_data_error(exc) else INTERNAL}"
            problems.append(Problem(self.id, wording, ProblemCode.WATERMARK_ERROR))
            checks.append(Check(name, "pixels unreadable"))
            return
        evidence += result.evidence()
        best = result.best()
        if not result.testable:
            outcome = f"not testable: {result.reason}"
        elif best is None:
            outcome = "none"
        else:
            outcome = f"{best.scheme} {best.agreeing}/{best.bits} bits, {best.band}"
        checks.append(Check(name, outcome))


def _once(meta: ImageMetadata, ctx: FileContext) -> Callable[[], Image.Image]:
    """Pixels as stored, decoded at most once per file: reused from the image analyzer's decode
    when it has them, else decoded here for whichever check asks first."""
    cache: list[Image.Image] = []

    def load() -> Image.Image:
        if not cache:
            for mode in ("exact", "fast"):
                shared = ctx.cache.get(f"decoded:{mode}")
                if isinstance(shared, Decoded) and shared.stored is not None:
                    cache.append(shared.stored)
                    break
            else:
                if meta.pixels is None:
                    raise ValueError("no pixel loader")
                cache.append(meta.pixels())
        return cache[0]

    return load
