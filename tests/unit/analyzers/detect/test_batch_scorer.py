"""The batch stage's scorer: many images per model run, the same scores as one image at a time,
and a failure costs only the images it concerns."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import draw_scene, encode
from detector_bundle import make_bundle
from veriscan.analyzers.base import FileContext
from veriscan.analyzers.detect import analyzer as detect
from veriscan.analyzers.detect import pending
from veriscan.analyzers.detect.analyzer import DetectorAnalyzer
from veriscan.analyzers.detect.batch import BatchScorer
from veriscan.domain import Artifact, Attribute
from veriscan.pipeline.detector_stage import resolve_stage
from veriscan.pipeline.executors import InlineExecutor, rows_batch
from veriscan.pipeline.executors.ray import inference_resources
from veriscan.settings import Settings


@pytest.fixture(autouse=True)
def _fresh_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "_loaded", {})


SIZES = [(320, 240), (1024, 768), (37, 20), (64, 64), (900, 131)]


def images() -> list[bytes]:
    out = []
    for i, (w, h) in enumerate(SIZES):
        img = draw_scene(i).resize((w, h))
        out.append(encode(img, "PNG" if i % 2 else "JPEG"))
    return out


def analyze(settings: Settings, data: bytes) -> tuple[list[Any], FileContext]:
    ctx = FileContext("x.png", data, "image/png", settings)
    return DetectorAnalyzer(settings).analyze(ctx), ctx


def waiting(tmp_path: Path, bundle: Path) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """Rows for the scorer from batch-mode analysis, and the inline results for the same bytes."""
    inline = Settings(detector_model=str(bundle))
    deferred = inline.replace(detector_stage="batch")
    rows, expected = [], []
    for i, data in enumerate(images()):
        facts, ctx = analyze(deferred, data)
        (artifact,) = facts
        assert isinstance(artifact, Artifact) and artifact.name == pending.ARTIFACT
        assert ctx.cache[pending.PENDING_KEY] == "tiny-test@0"
        path = tmp_path / f"{i}.npy"
        path.write_bytes(artifact.data)
        rows.append({"sha256": f"{i:064d}", "path": str(path)})
        (attr,) = analyze(inline, data)[0]
        assert isinstance(attr, Attribute)
        expected.append(attr.value)
    return rows, expected


def scored(bundle: Path, rows: list[dict[str, str]], batch_size: int = 64) -> list[dict[str, Any]]:
    out = InlineExecutor().map_batches(BatchScorer, {"folder": str(bundle)}, rows, batch_size)
    return list(out)


def test_one_run_for_many_images_gives_the_inline_scores(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b")
    rows, expected = waiting(tmp_path, bundle)
    for size in (64, 2):
        got = scored(bundle, rows, size)
        assert [r["sha256"] for r in got] == [r["sha256"] for r in rows]
        assert [json.loads(r["result"]) for r in got] == expected
        assert {r["code"] for r in got} == {""}
        assert {r["providers"] for r in got} == {"CPUExecutionProvider"}


def test_missing_or_bad_patches_cost_only_their_image(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b")
    rows, expected = waiting(tmp_path, bundle)
    Path(rows[1]["path"]).unlink()
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    Path(rows[2]["path"]).write_bytes(pickled.getvalue())
    other = io.BytesIO()
    np.save(other, np.zeros((16, 3, 48, 48), dtype=np.uint8))
    Path(rows[3]["path"]).write_bytes(other.getvalue())
    got = scored(bundle, rows)
    assert [r["code"] for r in got] == ["", *["detector-pixels-missing"] * 3, ""]
    assert [r["reason"] for r in got][1:4] == ["patches missing"] * 3
    assert "every node" in got[1]["message"] and "(3, 32, 32)" in got[3]["message"]
    assert json.loads(got[0]["result"]) == expected[0]
    assert json.loads(got[4]["result"]) == expected[4]


def test_no_model_fails_every_image_with_the_inline_wording(tmp_path: Path) -> None:
    rows = [{"sha256": "a" * 64, "path": str(tmp_path / "none.npy")}]
    (row,) = scored(tmp_path / "no-bundle", rows)
    assert (row["code"], row["reason"], row["result"]) == ("detector-no-model", "no model", "")
    assert row["message"].startswith("no usable model:")


def test_a_failing_run_fails_its_batch_not_the_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = make_bundle(tmp_path / "b")
    rows, _ = waiting(tmp_path, bundle)

    def broken(self: Any, batch: np.ndarray) -> np.ndarray:
        raise detect.InferenceError("model gave 3 logits for 16 patches")

    monkeypatch.setattr(detect.Detector, "logits", broken)
    got = scored(bundle, rows, batch_size=2)
    assert {r["code"] for r in got} == {"detector-error"} and len(got) == len(rows)
    assert all("3 logits" in r["message"] for r in got)


def test_patch_files_refuse_pickles_and_wrong_shapes() -> None:
    crops = np.arange(2 * 3 * 8 * 8, dtype=np.uint8).reshape(2, 3, 8, 8)
    assert np.array_equal(pending.decode(pending.encode(crops), 8), crops)
    with pytest.raises(pending.PendingError):
        pending.decode(pending.encode(crops)[:40], 8)
    floats = io.BytesIO()
    np.save(floats, crops.astype(np.float32))
    with pytest.raises(pending.PendingError):
        pending.decode(floats.getvalue(), 8)
    with pytest.raises(pending.PendingError):
        pending.decode(b"not numpy", 8)


def test_rows_batch_keeps_columns() -> None:
    batch = rows_batch([{"a": "1", "b": "x"}, {"a": "2", "b": "y"}])
    assert list(batch) == ["a", "b"] and list(batch["a"]) == ["1", "2"]


@pytest.mark.parametrize(
    ("cluster", "args", "size"),
    [
        ({"CPU": 2.0}, {"num_cpus": 1, "actors": 2}, 32),
        ({"CPU": 16.0, "GPU": 1.0}, {"num_gpus": 1, "actors": 1}, 256),
        ({"CPU": 64.0, "GPU": 4.0}, {"num_gpus": 1, "actors": 4}, 256),
        ({}, {"num_cpus": 1, "actors": 1}, 32),
    ],
)
def test_one_model_session_per_gpu_else_per_cpu(
    cluster: dict[str, float], args: dict[str, int], size: int
) -> None:
    assert inference_resources(cluster, 32) == (args, size)


@pytest.mark.parametrize(
    ("stage", "gpus", "chosen"),
    [("auto", 0, "inline"), ("auto", 2, "batch"), ("inline", 4, "inline"), ("batch", 0, "batch")],
)
def test_auto_batches_only_where_there_are_gpus(stage: str, gpus: int, chosen: str) -> None:
    assert resolve_stage(stage, gpus) == chosen
    assert InlineExecutor().gpus() == 0
