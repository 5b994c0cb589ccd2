"""AI model files identified by content while they stream past: format, kind, family, hashes, leads.

Model files run to many gigabytes, so nothing here buffers a whole file: the first bytes (where
every supported format keeps its header) are captured up to a bound, and the hashes that generator
metadata and model sites use are computed on the same single read the pipeline already does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from veriscan.analyzers.base import StreamingAnalyzer, StreamState
from veriscan.analyzers.models.classify import classify
from veriscan.analyzers.models.formats import (
    HEAD_LIMIT,
    ModelFormatError,
    read_diffusers_index,
    read_gguf,
    read_safetensors_header,
    read_torch_legacy,
    read_torch_zip,
    sniff_model,
)
from veriscan.analyzers.models.hashes import ModelHasher
from veriscan.analyzers.models.onnx import read_onnx, sniff_onnx
from veriscan.analyzers.models.training import training_leads
from veriscan.model import Attribute, Fact, Problem

SNIFF_BYTES = 4096


class _ModelState(StreamState):
    def __init__(self, analyzer_id: str) -> None:
        self._id = analyzer_id
        self._head = bytearray()
        self._format: str | None = None
        self._decided = False
        self._hasher: ModelHasher | None = None
        self._size = 0

    def update(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if not self._decided:
            self._head += chunk
            if len(self._head) < SNIFF_BYTES:
                return
            self._decide()
            if self._hasher is not None:
                self._hasher.update(self._head)
            return
        if self._hasher is None:
            return
        self._hasher.update(chunk)
        room = HEAD_LIMIT - len(self._head)
        if room > 0:
            self._head += chunk[:room]

    def _decide(self) -> None:
        self._decided = True
        head = bytes(self._head[:SNIFF_BYTES])
        self._format = sniff_model(head) or ("onnx" if sniff_onnx(head) else None)
        if self._format is None:
            self._head = bytearray()
        else:
            self._hasher = ModelHasher()

    def finish(self) -> list[Fact]:
        if not self._decided:
            self._decide()
            if self._hasher is not None:
                self._hasher.update(self._head)
        if self._format is None or self._hasher is None:
            return []
        head = bytes(self._head)
        result: dict[str, Any] = {"format": self._format, "hashes": self._hasher.digests()}
        facts: list[Fact] = []
        try:
            result.update(self._describe(head))
        except ModelFormatError as exc:
            facts.append(Problem(self._id, f"{self._format}: {exc}", "model-unreadable"))
            result.update({"kind": "unknown", "family": "unknown"})
        dangerous = (result.get("pickle") or {}).get("dangerous")
        if dangerous:
            facts.append(
                Problem(
                    self._id,
                    "pickle imports that would run code if the file were loaded: "
                    + ", ".join(dangerous),
                    "model-code-execution",
                )
            )
        facts.insert(0, Attribute("model", result))
        return facts

    def _describe(self, head: bytes) -> dict[str, Any]:
        if self._format == "safetensors":
            header = read_safetensors_header(head, self._size)
            shapes = {name: tuple(t.shape) for name, t in header.tensors.items()}
            found = classify(shapes, header.metadata)
            return {
                **found.to_json(),
                "tensors": len(shapes),
                "metadata": header.metadata,
                "training": training_leads(header.metadata) if header.metadata else None,
            }
        if self._format == "gguf":
            info = read_gguf(head)
            return {"kind": "unknown", "family": "unknown", "gguf": info.to_json()}
        if self._format in ("pytorch-zip", "pytorch-legacy"):
            reader = read_torch_zip if self._format == "pytorch-zip" else read_torch_legacy
            torch = reader(head)
            found = classify(torch.shape_map(), {})
            return {**found.to_json(), "pickle": torch.to_json()}
        if self._format == "onnx":
            onnx = read_onnx(head)
            return {"kind": onnx.kind, "family": "unknown", "onnx": onnx.to_json()}
        if self._format == "diffusers-index":
            index = read_diffusers_index(head)
            return {
                "kind": "diffusers-pipeline",
                "family": "unknown",
                "diffusers": {
                    "class_name": index.class_name,
                    "version": index.diffusers_version,
                    "components": index.components,
                },
            }
        return {"kind": "unknown", "family": "unknown"}


class ModelAnalyzer(StreamingAnalyzer):
    id: ClassVar[str] = "models"
    version: ClassVar[str] = "1"

    def begin(self, name: str) -> StreamState:
        return _ModelState(self.id)
