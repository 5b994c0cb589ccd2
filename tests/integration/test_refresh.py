"""`veriscan refresh`: the case-wide stages rebuilt from the store, evidence unread; and a
third-party stage, installed through entry points, running after every ingest."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from typer.testing import CliRunner

from support.plugin_dist import installed
from veriscan.cli.app import app

st = pytest.importorskip("safetensors.numpy", reason="fixtures need safetensors")
runner = CliRunner()
TABLES = ("dup_groups", "links", "installs", "matches")


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _png(img: Image.Image, text: dict[str, str] | None = None) -> bytes:
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def _textured(seed: int) -> Image.Image:
    noise = (np.random.default_rng(seed).random((60, 80, 3)) * 255).astype("uint8")
    return Image.fromarray(noise).resize((320, 240), Image.Resampling.BILINEAR)


def _checkpoint() -> bytes:
    tensors = {
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": np.zeros(
            (320, 768), np.float16
        ),
        "cond_stage_model.transformer.text_model.embeddings.position_ids": np.zeros(
            (1, 77), np.int64
        ),
        "first_stage_model.decoder.conv_in.weight": np.zeros((4, 4, 3, 3), np.float16),
    }
    return bytes(st.save(tensors, metadata={"format": "pt"}))


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    """A generator install with its checkpoint, an image made with it (a link), a near-duplicate
    pair (a group) and a file on the list."""
    root = tmp_path / "evidence"
    ckpt = _checkpoint()
    models = root / "webui" / "models" / "Stable-diffusion"
    models.mkdir(parents=True)
    (models / "harbourMix_v2.safetensors").write_bytes(ckpt)
    (root / "webui" / "modules").mkdir()
    (root / "webui" / "webui.py").write_text("import modules\n")
    (root / "webui" / "modules" / "sd_models.py").write_text("def model_hash(): ...\n")
    infotext = (
        "a harbour at dawn\nNegative prompt: blurry\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x512, "
        f"Model hash: {hashlib.sha256(ckpt).hexdigest()[:10]}, Model: harbourMix_v2"
    )
    made = Image.new("RGB", (512, 512), (40, 90, 160))
    (root / "made.png").write_bytes(_png(made, {"parameters": infotext}))
    (root / "t0.png").write_bytes(_png(_textured(0)))
    buf = io.BytesIO()
    _textured(0).save(buf, "JPEG", quality=70)
    (root / "t0-copy.jpg").write_bytes(buf.getvalue())
    (root / "listed.txt").write_text("on the list\n")
    return root


def _counts(case: Path) -> dict[str, int]:
    con = sqlite3.connect(case / "case.db")
    try:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def _delete(case: Path, *tables: str) -> None:
    con = sqlite3.connect(case / "case.db")
    try:
        for table in tables:
            con.execute(f"delete from {table}")
        con.commit()
    finally:
        con.close()


def _scanned(tmp_path: Path, evidence: Path) -> Path:
    listed = hashlib.md5((evidence / "listed.txt").read_bytes()).hexdigest()
    (tmp_path / "list.txt").write_text(listed + "\n")
    code, text = invoke("lists", "import", str(tmp_path / "list.txt"), "--name", "known")
    assert code == 0, text
    case = tmp_path / "case"
    code, text = invoke("scan", str(evidence), "--case", str(case), "--executor", "inline")
    assert code == 0, text
    assert "known: md5 1" in text, text  # list matching ran as a stage after the ingest
    return case


def test_refresh_rebuilds_what_was_deleted_without_reading_evidence(
    tmp_path: Path, evidence: Path
) -> None:
    case = _scanned(tmp_path, evidence)
    before = _counts(case)
    assert all(before[t] > 0 for t in TABLES), before
    shutil.rmtree(evidence)  # refresh never reads evidence
    _delete(case, *TABLES)
    code, text = invoke("refresh", str(case))
    assert code == 0, text
    assert _counts(case) == before
    assert "known: md5 1" in text and "groups: groups 1" in text, text

    _delete(case, "dup_groups", "matches")
    code, text = invoke("refresh", str(case), "--stage", "groups")
    assert code == 0, text
    assert _counts(case) == {**before, "matches": 0}
    assert "lists" not in text, text


def test_refresh_exit_codes(tmp_path: Path, evidence: Path) -> None:
    code, text = invoke("refresh", str(tmp_path / "nowhere"))
    assert code == 2 and text.count("\n") == 1, text
    case = _scanned(tmp_path, evidence)
    code, text = invoke("refresh", str(case), "--stage", "nope")
    assert code == 2 and "no stage nope" in text and text.count("\n") == 1, text
    code, text = invoke("refresh", str(case), "--list", "absent")
    assert code == 2 and "absent" in text, text
    code, text = invoke("refresh", str(case), "--stage", "detector")
    assert code == 0 and "detector: nothing pending" in text, text


STAGE_MODULE = """
from sqlalchemy import func, select

from veriscan.stages.base import Stage, StageContext, StageResult
from veriscan.store import schema


class GroupCensus(Stage):
    id = "census"
    after = ("groups",)

    def pending(self, case, context: StageContext) -> int:
        return 1

    def run(self, case, context: StageContext) -> StageResult:
        with case.engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(schema.dup_groups)).scalar_one()
        (case.root / "census.txt").write_text(f"{rows} {context.run_id}")
        return StageResult(self.id, counts={"grouped": rows}, lines=(f"census: {rows} grouped",))
"""


def test_a_third_party_stage_runs_after_every_ingest_in_declared_order(
    tmp_path: Path, evidence: Path
) -> None:
    plugin = tmp_path / "site"
    points = {"veriscan.stages": {"census": "vs_census_stage:GroupCensus"}}
    with installed(plugin, "vs-census", points, {"vs_census_stage": STAGE_MODULE}):
        case = tmp_path / "case"
        code, text = invoke("scan", str(evidence), "--case", str(case), "--executor", "inline")
        assert code == 0, text
        assert "census: 2 grouped" in text, text  # after groups: it saw the pair's rows
        rows, run_id = (case / "census.txt").read_text().split()
        assert rows == "2" and int(run_id) >= 1
        code, text = invoke("refresh", str(case), "--stage", "census")
        assert code == 0 and "census: grouped 2" in text, text
    code, text = invoke("refresh", str(case), "--stage", "census")
    assert code == 2 and "no stage census" in text, text  # uninstalled: gone from the registry


def test_ctrl_c_in_refresh_stops_between_stages_then_the_same_command_finishes(
    tmp_path: Path, evidence: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from veriscan.stages import groups as groups_stage

    case = _scanned(tmp_path, evidence)
    before = _counts(case)
    _delete(case, *TABLES)
    real = groups_stage.refresh_groups

    def interrupted(*args: Any) -> int:
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args)

    with monkeypatch.context() as patched:
        patched.setattr(groups_stage, "refresh_groups", interrupted)
        code, text = invoke("refresh", str(case))
    assert code == 130, text
    assert "groups: groups 1" in text and "interrupted" in text, text
    after = _counts(case)
    assert after["dup_groups"] == before["dup_groups"]  # the stage under way finished
    assert after["links"] == 0 and after["matches"] == 0  # later stages wait for the next run
    code, text = invoke("refresh", str(case))
    assert code == 0, text
    assert _counts(case) == before


def test_a_missing_list_is_a_setup_error_before_the_ingest(tmp_path: Path, evidence: Path) -> None:
    case = tmp_path / "case"
    code, text = invoke(
        "scan", str(evidence), "--case", str(case), "--executor", "inline", "--list", "absent"
    )
    assert code == 2 and "absent" in text and text.count("\n") == 1, text
    assert not case.exists(), "refused before a case was created"
