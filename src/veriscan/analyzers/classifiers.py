"""The classifier slot: content classifiers the examiner supplies, configured from settings only.

veriscan ships no content classifier. An agency that licenses or builds one (an ONNX model with
one NCHW float32 input) names it in ``veriscan.toml``::

    [veriscan.classifiers.example]
    model = "path/to/model.onnx"
    size = 224                          # input side; images are letterboxed to it
    mean = [0.485, 0.456, 0.406]
    std = [0.229, 0.224, 0.225]
    labels = ["negative", "positive"]   # one per output; softmax unless activation = "sigmoid"
    flag = { label = "positive", threshold = 0.8 }

Each image is decoded once (the shared decode), letterboxed onto a black square of ``size``
pixels (aspect kept, centred), scaled to 0..1, normalised with ``mean``/``std`` and run on the CPU.
The scores are the supplied model's estimate, stored per content with the model file's SHA-256.
A model that cannot load or does not take ``1x3xSIZExSIZE`` and give one output per label stops
the run at start (a setting error), rather than failing on every file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from veriscan import offline
from veriscan.analyzers.base import Analyzer, FileContext
from veriscan.analyzers.decode import decoded, wants_image
from veriscan.analyzers.failures import INTERNAL, log_exception
from veriscan.domain import Attribute, Fact, Problem, ProblemCode
from veriscan.settings import Settings, SettingsError, table_config

FAMILY = "classifiers"
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
LABEL_PATTERN = re.compile(r"[A-Za-z0-9 _.-]{1,64}")
"""Names and labels are keys of the stored JSON the review app filters and orders by."""
ACTIVATIONS = ("softmax", "sigmoid")
_MAX_SIZE = 4096


@dataclass(frozen=True)
class Flag:
    label: str
    threshold: float


@dataclass(frozen=True)
class ClassifierConfig:
    """One ``[veriscan.classifiers.NAME]`` table."""

    model: str
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    labels: tuple[str, ...]
    activation: str = "softmax"
    flag: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not 0 < self.size <= _MAX_SIZE:
            raise ValueError(f"size must be between 1 and {_MAX_SIZE}")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("mean and std need one value per colour channel (3)")
        if any(s <= 0 for s in self.std):
            raise ValueError("std values must be positive")
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be a non-empty list of distinct names")
        for label in self.labels:
            if not LABEL_PATTERN.fullmatch(label):
                raise ValueError(f"label {label!r}: use 1-64 letters, digits, spaces, _ . -")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}")
        self.flagging()

    def flagging(self) -> Flag | None:
        if self.flag is None:
            return None
        unknown = sorted(set(self.flag) - {"label", "threshold"})
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} in flag")
        label, threshold = self.flag.get("label"), self.flag.get("threshold")
        if label not in self.labels:
            raise ValueError(f"flag label {label!r} is not one of the labels")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ValueError("flag threshold must be a number")
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError("flag threshold must be between 0 and 1")
        return Flag(str(label), float(threshold))


def classifier_configs(settings: Settings) -> dict[str, ClassifierConfig]:
    """Every configured classifier, validated; SettingsError names the table and key."""
    for name in settings.table_names(FAMILY):
        if not NAME_PATTERN.fullmatch(name):
            raise SettingsError(f"[veriscan.{FAMILY}.{name}]: name it with 1-64 of A-Z a-z 0-9 _ -")
    return {
        name: table_config(
            ClassifierConfig, settings.table(FAMILY, name), f"[veriscan.{FAMILY}.{name}]"
        )
        for name in settings.table_names(FAMILY)
    }


@dataclass(frozen=True)
class LoadedModel:
    sha256: str
    session: Any
    input_name: str


_LOADED: dict[tuple[str, int, int], LoadedModel] = {}


def load_model(name: str, config: ClassifierConfig) -> LoadedModel:
    """The model's session, checked once per process: it loads, takes 1x3xSIZExSIZE float32
    and gives one output per label. SettingsError (one line) otherwise."""
    path = Path(config.model).expanduser()
    key = (str(path.resolve()), config.size, len(config.labels))
    found = _LOADED.get(key)
    if found is not None:
        return found
    where = f"classifier {name!r} model {str(path)!r}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{where}: cannot read: {exc.strerror or exc}") from None
    ort = offline.onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for a bad graph
        raise SettingsError(f"{where}: not a usable ONNX model: {_line(exc)}") from None
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise SettingsError(f"{where}: needs exactly one input, has {len(inputs)}")
    if inputs[0].type != "tensor(float)":
        raise SettingsError(f"{where}: input must be float32, is {inputs[0].type}")
    want = (1, 3, config.size, config.size)
    shape = list(inputs[0].shape)
    fixed = len(shape) == 4 and all(
        not isinstance(d, int) or d == w for d, w in zip(shape, want, strict=True)
    )
    if not fixed:
        shown = "x".join(str(d) if isinstance(d, int) else "?" for d in shape)
        raise SettingsError(
            f"{where}: input shape {shown} does not take 1x3x{config.size}x{config.size} (NCHW)"
        )
    loaded = LoadedModel(hashlib.sha256(data).hexdigest(), session, inputs[0].name)
    try:
        outputs = _raw_scores(loaded, np.zeros(want, dtype=np.float32))
    except Exception as exc:
        message = f"{where}: fails on a {config.size}-pixel input: {_line(exc)}"
        raise SettingsError(message) from None
    if outputs.size != len(config.labels):
        raise SettingsError(
            f"{where}: gives {outputs.size} outputs for {len(config.labels)} labels"
        )
    _LOADED[key] = loaded
    return loaded


def _line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def letterbox(rgb: Image.Image, size: int) -> Image.Image:
    """``rgb`` scaled to fit a ``size`` square (aspect kept, bilinear), centred on black."""
    width, height = rgb.size
    scale = size / max(width, height)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = Image.new("RGB", (size, size))
    canvas.paste(
        rgb.convert("RGB").resize(new, Image.Resampling.BILINEAR),
        ((size - new[0]) // 2, (size - new[1]) // 2),
    )
    return canvas


def preprocess(rgb: Image.Image, config: ClassifierConfig) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The model's input: 1x3xSIZExSIZE float32, (pixel/255 - mean) / std per channel."""
    pixels = np.asarray(letterbox(rgb, config.size), dtype=np.float32) / np.float32(255.0)
    mean = np.asarray(config.mean, dtype=np.float32)
    std = np.asarray(config.std, dtype=np.float32)
    chw = ((pixels - mean) / std).transpose(2, 0, 1)
    return np.ascontiguousarray(chw[np.newaxis], dtype=np.float32)


def _raw_scores(model: LoadedModel, batch: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    out = model.session.run(None, {model.input_name: batch})[0]
    return np.asarray(out, dtype=np.float64).reshape(-1)


def activate(raw: np.ndarray[Any, Any], activation: str) -> np.ndarray[Any, Any]:
    if activation == "sigmoid":
        return np.asarray(1.0 / (1.0 + np.exp(-raw)))
    shifted = np.exp(raw - raw.max())
    return np.asarray(shifted / shifted.sum())


def score(name: str, config: ClassifierConfig, rgb: Image.Image) -> dict[str, Any]:
    """One classifier's stored result for one image: model_sha256, scores, flagged."""
    model = load_model(name, config)
    probs = activate(_raw_scores(model, preprocess(rgb, config)), config.activation)
    scores = {label: float(p) for label, p in zip(config.labels, probs, strict=True)}
    flag = config.flagging()
    flagged = flag is not None and scores[flag.label] >= flag.threshold
    return {"model_sha256": model.sha256, "scores": scores, "flagged": flagged}


class ClassifierAnalyzer(Analyzer):
    """Runs every ``[veriscan.classifiers.NAME]`` model on each image."""

    id: ClassVar[str] = "classifier"
    version: ClassVar[str] = "1"
    requires: ClassVar[tuple[str, ...]] = ("image",)  # reuses its decode from the cache

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.classifiers = classifier_configs(settings)

    @classmethod
    def prepare(cls, settings: Settings) -> str | None:
        configs = classifier_configs(settings)
        if not configs:
            return None
        shas = [f"{name}:{load_model(name, c).sha256[:12]}" for name, c in configs.items()]
        return f"{cls.version}/{','.join(shas)}"

    def wants(self, mime: str) -> bool:
        return bool(self.classifiers) and wants_image(mime)

    def analyze(self, ctx: FileContext) -> list[Fact]:
        result = decoded(ctx, "fast")
        if result.failure is not None:
            return [Problem(self.id, result.failure.message, code=result.failure.code)]
        if result.rgb is None:
            return [Problem(self.id, "no pixels to classify", code=ProblemCode.CORRUPT_IMAGE)]
        out: dict[str, Any] = {}
        for name, config in self.classifiers.items():
            try:
                out[name] = score(name, config, result.rgb)
            except Exception as exc:  # a model failing on one image costs that image only
                log_exception(self.id, ctx.name, exc)
                return [
                    Problem(
                        self.id,
                        f"classifier {name!r} failed ({INTERNAL})",
                        ProblemCode.CLASSIFIER_ERROR,
                    )
                ]
        return [Attribute("classifiers", out)]
