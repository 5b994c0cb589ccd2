"""AI model files identified by content while they stream past: format, kind, family, hashes, leads.

Model files run to many gigabytes, so nothing here buffers a whole file: the first bytes (where
every supported format keeps its header) are captured up to a bound, and the hashes that generator
metadata and model sites use are computed on the same single read the pipeline already does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from veriscan.analyzers.base import StreamingAnalyzer, StreamState
from veriscan.analyzers.failures import log_exception
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
from veriscan.analyzers.models.pickles import PickleScan, TorchInfo, scan_pickle, torch_info
from veriscan.analyzers.models.plainpickle import is_pickle, pickle_candidate, scan_pickles
from veriscan.analyzers.models.training import training_leads
from veriscan.analyzers.models.zipwalk import LOCAL as ZIP_LOCAL
from veriscan.analyzers.models.zipwalk import ZipWalker
from veriscan.domain import Attribute, Fact, Problem, ProblemCode

SNIFF_BYTES = 4096


class _ModelState(StreamState):
    def __init__(self, analyzer_id: str, name: str) -> None:
        self._id = analyzer_id
        self._name = name
        self._zip: ZipWalker | None = None
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
        if self._zip is not None:
            self._zip.feed(chunk)
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
        if head[:4] == ZIP_LOCAL:
            # Every zip is walked: its data.pkl may come after any number of members.
            self._zip = ZipWalker()
            self._zip.feed(self._head)
        if self._format is None and pickle_candidate(head, self._name):
            self._format = "pickle"
        if self._format is None:
            self._head = bytearray()
        else:
            self._hasher = ModelHasher()

    def finish(self) -> list[Fact]:
        if not self._decided:
            self._decide()
            if self._hasher is not None:
                self._hasher.update(self._head)
        if self._format is None and self._zip is not None and self._zip.has_torch_pickle():
            self._format = "pytorch-zip"  # found past the sniffed bytes: hashes were not taken
        if self._format is None:
            return []
        head = bytes(self._head)
        scans = scan_pickles(head) if self._format == "pickle" else []
        if self._format == "pickle" and not is_pickle(scans):
            return []
        hashes = self._hasher.digests() if self._hasher is not None else {}
        result: dict[str, Any] = {"format": self._format, "hashes": hashes}
        facts: list[Fact] = []
        try:
            result.update(self._describe(head, scans))
        except ModelFormatError as exc:
            if exc.__cause__ is not None:
                log_exception(self._id, self._format, exc)
            wording = str(exc)
            if not wording.startswith(f"{self._format}: "):
                wording = f"{self._format}: {wording}"
            facts.append(Problem(self._id, wording, ProblemCode.MODEL_UNREADABLE))
            result.update({"kind": "unknown", "family": "unknown"})
        dangerous = (result.get("pickle") or {}).get("dangerous")
        if dangerous:
            facts.append(
                Problem(
                    self._id,
                    "pickle imports that would run code if the file were loaded: "
                    + ", ".join(dangerous),
                    ProblemCode.MODEL_CODE_EXECUTION,
                )
            )
        facts.insert(0, Attribute("model", result))
        return facts

    def _describe(self, head: bytes, scans: list[PickleScan]) -> dict[str, Any]:
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
        if self._format in ("pytorch-zip", "pytorch-legacy", "pickle"):
            if self._format == "pickle":
                torch = torch_info("pickle", scans, [])
            elif self._zip is not None and self._zip.pickles:
                torch = zip_pickles(self._zip)
            else:
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
        return _ModelState(self.id, name)


def zip_pickles(walker: ZipWalker) -> TorchInfo:
    """Every ``*.pkl`` member the walk kept: torch.load runs data.pkl, and a pickle placed
    beside it is there for some other loader to run."""
    scans: list[PickleScan] = []
    notes: list[str] = []
    for member in walker.pickles:
        data = member.pickle_bytes()
        if data is None:
            notes.append(f"{member.name}: compression method {member.method} not read")
            continue
        scans.append(scan_pickle(data))
        if member.truncated:
            notes.append(f"{member.name}: only the first {len(member.data)} bytes walked")
    info = torch_info("zip", scans, walker.names)
    if walker.stopped not in (None, "central directory", "end"):
        notes.append(f"member walk stopped at {walker.stopped}")
    info.problems.extend(notes)
    return info
