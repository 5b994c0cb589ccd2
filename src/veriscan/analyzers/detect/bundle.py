"""The shipped detector: an ONNX graph plus the JSON that says how to read its output.

The graph maps patches ``(N, 3, P, P)`` float32 in [0, 1] (input ``patches``) to one logit per
patch (output ``logits``, shape ``(N,)``). The image's logit is the mean over its grid patches,
and Platt calibration ``p = sigmoid(a * logit + b)`` with ``a > 0`` turns it into a probability
that rises with the logit. Training writes both files; inference only reads them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

BUNDLE_DIR: Final = Path(__file__).with_name("model")
ONNX_NAME: Final = "detector.onnx"
META_NAME: Final = "detector.json"
INPUT: Final = "patches"
OUTPUT: Final = "logits"


class BundleError(ValueError):
    """The model files are missing or do not describe a usable detector."""


@dataclass(frozen=True)
class Calibration:
    a: float = 1.0
    b: float = 0.0

    def __post_init__(self) -> None:
        if not (self.a > 0 and math.isfinite(self.a) and math.isfinite(self.b)):
            raise BundleError(f"calibration slope must be positive and finite, got {self.a}")

    def probability(self, logit: float) -> float:
        z = self.a * logit + self.b
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)


@dataclass(frozen=True)
class BundleMeta:
    name: str
    version: str
    design: str
    patch: int
    patches: int
    threshold: float
    calibration: Calibration
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BundleMeta:
        try:
            return cls(
                name=str(data["name"]),
                version=str(data["version"]),
                design=str(data["design"]),
                patch=int(data["patch"]),
                patches=int(data["patches"]),
                threshold=float(data["threshold"]),
                calibration=Calibration(**data["calibration"]),
                training=dict(data.get("training", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"detector metadata is incomplete: {exc}") from exc


def read_meta(folder: Path = BUNDLE_DIR) -> BundleMeta:
    path = folder / META_NAME
    try:
        return BundleMeta.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"cannot read {path}: {exc}") from exc


def write_meta(meta: BundleMeta, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / META_NAME
    path.write_text(json.dumps(meta.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
