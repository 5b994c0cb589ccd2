"""The pixel-level detector, run on every image during a scan.

Metadata evidence disappears when an image is re-encoded or shared; the pixels may still carry a
generator's statistical traces. This analyzer turns them into a calibrated score, stores it as is
and leaves it in ``FileContext.cache`` for the provenance analyzer, which may raise its verdict to
``indicative`` and never further: the score is a statistical estimate, not proof, and a low one
never shows that an image is a photograph.

The ONNX session is created once per process and bundle folder and runs on one thread, because a
scan already runs one worker process per core. When veriscan ships without a model and the
examiner named none, the detector is left out of the run (and of its record), file by file silent;
a model the examiner named but that cannot be loaded stops the scan before any file is read.

With ``detector_stage = batch`` the analyzer stops after the patches: it returns them as an
artifact for the batch stage (``pipeline/detector_stage.py``), which scores many images per model
run where GPUs make that worth a second pass; failures before that point are recorded here, worded
as inline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final, TypeVar, cast

import numpy as np
from PIL import UnidentifiedImageError

from veriscan import offline
from veriscan.analyzers.base import Analyzer, FileContext
from veriscan.analyzers.decode import (
    EMBEDDED_PREVIEW,
    UNIDENTIFIED,
    image_bytes,
    init_pillow,
    raw_preview,
    wants_image,
)
from veriscan.analyzers.detect import patches, pending
from veriscan.analyzers.detect.bundle import (
    BUNDLE_DIR,
    INPUT,
    META_NAME,
    ONNX_NAME,
    OUTPUT,
    BundleError,
    BundleMeta,
    read_meta,
)
from veriscan.analyzers.failures import INTERNAL, decode_failure, log_exception
from veriscan.domain import Artifact, Attribute, Fact, Problem, ProblemCode
from veriscan.settings import BATCH, Settings, SettingsError

CACHE_KEY: Final = "detector"
"""``FileContext.cache`` entry holding the result dict, for the provenance analyzer."""
FAILED_KEY: Final = "detector:failed"
"""``FileContext.cache`` entry saying, in a few words, why the detector has no result."""
DIGITS: Final = 4
MAX_PIXELS = patches.MAX_PIXELS
CUDA: Final = "CUDAExecutionProvider"
CPU: Final = "CPUExecutionProvider"
T = TypeVar("T")


Failure = tuple[ProblemCode, str, str]
"""A Problem code, its message, and the few words the verdict's pixel check shows."""


def no_model(exc: Exception) -> Failure:
    return ProblemCode.DETECTOR_NO_MODEL, f"no usable model: {exc}", "no model"


def inference_failed(exc: Exception) -> Failure:
    """The contract's own wording for a bad output; anything else goes to the run log only."""
    if isinstance(exc, InferenceError):
        return ProblemCode.DETECTOR_ERROR, f"inference failed: {exc}", "failed"
    log_exception("detector inference", "a batch of patches", exc)
    return ProblemCode.DETECTOR_ERROR, f"inference failed ({INTERNAL})", "failed"


class InferenceError(RuntimeError):
    """The model ran but gave an output the contract does not allow (wrong shape, not finite)."""


@dataclass(frozen=True)
class Detector:
    """A loaded bundle: its metadata and an ONNX Runtime session, shared by every file."""

    meta: BundleMeta
    session: Any
    providers: tuple[str, ...]

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """One logit per patch; every patch of an image goes through a single ``run``."""
        (out,) = self.session.run([OUTPUT], {INPUT: batch})
        logits = np.asarray(out, dtype=np.float64).reshape(-1)
        if logits.shape != (len(batch),):
            raise InferenceError(f"model gave {logits.size} logits for {len(batch)} patches")
        if not np.all(np.isfinite(logits)):
            raise InferenceError("model gave a logit that is not a finite number")
        return logits

    def score(self, pixels: np.ndarray) -> dict[str, Any]:
        """The stored result for one image's RGB pixels (H, W, 3) at full resolution."""
        batch = patches.grid_patches(pixels, patch=self.meta.patch, count=self.meta.patches)
        return self.result(self.logits(batch))

    def result(self, logits: np.ndarray) -> dict[str, Any]:
        """The stored result from one image's patch logits, however many images shared the run
        (on the CPU a patch's logit does not depend on its batch; tests hold that)."""
        logit = float(logits.mean())
        # Flagged is decided on the rounded score, so the stored score and flag never disagree.
        score = round(self.meta.calibration.probability(logit), DIGITS)
        return {
            "score": score,
            "model": self.meta.model_id,
            "flagged": score >= self.meta.threshold,
            "threshold": float(self.meta.threshold),
            "logit": round(logit, DIGITS),
            "patches": len(logits),
        }


_loaded: dict[tuple[str, str], Any] = {}
"""Per process, by resolved bundle folder: the detector (or its metadata alone), or why it cannot
be loaded (so a broken bundle costs one attempt per worker, not one per image)."""


def _memo(kind: str, folder: Path, opener: Callable[[Path], T]) -> T:
    key = (kind, str(folder.expanduser().resolve()))
    cached = _loaded.get(key)
    if cached is None:
        try:
            cached = opener(Path(key[1]))
        except BundleError as exc:
            cached = str(exc)
        _loaded[key] = cached
    if isinstance(cached, str):
        raise BundleError(cached)
    return cast(T, cached)


def load_detector(folder: Path) -> Detector:
    return _memo("detector", folder, _open)


def load_meta(folder: Path) -> BundleMeta:
    """The bundle's metadata without a model session: all a unit needs when a batch stage scores."""
    return _memo("meta", folder, _checked_meta)


def _checked_meta(folder: Path) -> BundleMeta:
    meta = read_meta(folder)
    if meta.patch < 1 or meta.patches < 1:
        raise BundleError(f"{folder / META_NAME}: patch and patches must be positive")
    if not 0.0 <= meta.threshold <= 1.0:
        raise BundleError(f"{folder / META_NAME}: threshold {meta.threshold} is not a probability")
    return meta


def providers() -> list[str]:
    """CUDA first where this onnxruntime build and machine have it; the CPU always."""
    ort = offline.onnxruntime()
    return [CUDA, CPU] if CUDA in ort.get_available_providers() else [CPU]


def _open(folder: Path) -> Detector:
    meta = _checked_meta(folder)
    path = folder / ONNX_NAME
    if not path.is_file():
        raise BundleError(f"{path} is missing")
    ort = offline.onnxruntime()  # imported here: every CLI command loads the analyzer classes

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), sess_options=opts, providers=providers())
    except Exception as exc:  # onnxruntime raises its own exception types for a bad graph
        raise BundleError(f"cannot load {path}: {exc}") from exc
    if INPUT not in {i.name for i in session.get_inputs()}:
        raise BundleError(f"{path} has no input named {INPUT!r}")
    if OUTPUT not in {o.name for o in session.get_outputs()}:
        raise BundleError(f"{path} has no output named {OUTPUT!r}")
    detector = Detector(meta, session, tuple(session.get_providers()))
    try:  # a graph that cannot take this bundle's patches is broken, not each image
        detector.logits(np.zeros((2, 3, meta.patch, meta.patch), dtype=np.float32))
    except Exception as exc:
        raise BundleError(f"{path} does not accept {meta.patch}-pixel patches: {exc}") from exc
    return detector


def packaged_present() -> bool:
    return (BUNDLE_DIR / ONNX_NAME).is_file() and (BUNDLE_DIR / META_NAME).is_file()


def chosen_folder(settings: Settings) -> Path:
    return Path(settings.detector_model) if settings.detector_model else BUNDLE_DIR


class DetectorAnalyzer(Analyzer):
    """A calibrated, per-image estimate that the pixels were generated; see the module docstring."""

    id: ClassVar[str] = "detector"
    version: ClassVar[str] = "1"
    requires: ClassVar[tuple[str, ...]] = ("image", "pdq")  # reuses their decodes from the cache

    @classmethod
    def prepare(cls, settings: Settings) -> str | None:
        if not settings.detector_model:
            if not packaged_present():
                return None
            try:
                return f"{cls.version}/{read_meta(BUNDLE_DIR).model_id}"
            except BundleError:
                return cls.version  # each image then records why the model is unusable
        folder = chosen_folder(settings)
        try:
            detector = load_detector(folder)
        except BundleError as exc:
            raise SettingsError(f"detector_model {folder}: {exc}") from None
        return f"{cls.version}/{detector.meta.model_id}"

    def wants(self, mime: str) -> bool:
        return wants_image(mime) and (bool(self.settings.detector_model) or packaged_present())

    def analyze(self, ctx: FileContext) -> list[Fact]:
        deferred = self.settings.detector_stage == BATCH
        try:
            folder = chosen_folder(self.settings)
            detector = None if deferred else load_detector(folder)
            meta = load_meta(folder) if detector is None else detector.meta
        except BundleError as exc:
            return self._failed(ctx, *no_model(exc))
        init_pillow()  # HEIF support and the decoder's pixel limit, as for the other analyzers
        try:
            pixels = patches.to_array(image_bytes(ctx), max_pixels=MAX_PIXELS)
        except patches.TooLargeError as exc:
            return self._failed(ctx, ProblemCode.DETECTOR_TOO_LARGE, str(exc), "image too large")
        except Exception as exc:  # hostile bytes can raise more than PatchError inside Pillow
            if isinstance(exc, patches.PatchError):
                message = str(exc)
            else:
                log_exception(self.id, ctx.name, exc)
                message = f"cannot decode image: {decode_failure(exc, 'image', len(ctx.data))[1]}"
            if isinstance(exc.__cause__, UnidentifiedImageError):  # its text holds an address
                message = UNIDENTIFIED
            return self._failed(ctx, ProblemCode.DETECTOR_UNREADABLE, message, "pixels unreadable")
        crops = patches.grid_crops(pixels, patch=meta.patch, count=meta.patches)
        if detector is None:
            ctx.cache[pending.PENDING_KEY] = meta.model_id
            return [Artifact(pending.ARTIFACT, pending.encode(crops), pending.SUFFIX)]
        try:
            result = detector.result(detector.logits(patches.to_float(crops)))
        except Exception as exc:
            return self._failed(ctx, *inference_failed(exc))
        ctx.cache[CACHE_KEY] = result
        facts: list[Fact] = [Attribute("detector", dict(result))]
        if raw_preview(ctx) is not None:
            facts.append(Attribute("source", EMBEDDED_PREVIEW))
        return facts

    def _failed(self, ctx: FileContext, code: ProblemCode, message: str, reason: str) -> list[Fact]:
        ctx.cache[FAILED_KEY] = reason
        return [Problem(self.id, message, code)]
