"""vPDQ lists: upstream's per-frame hash files as a list, matched by a scan of the videos."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from veriscan.cli.app import app
from veriscan.matching.vpdq import VideoFrame, resample, sampling_interval

runner = CliRunner()


def test_videos_match_their_own_upstream_hash_files(tmp_path: Path, shared_data: Path) -> None:
    hashes = shared_data / "pdq" / "vpdq" / "sample-hashes"
    videos = shared_data / "video"
    result = runner.invoke(app, ["lists", "import", str(hashes), "--name", "vpdq-upstream"])
    assert result.exit_code == 0, result.output
    assert "videos" in result.output
    case = tmp_path / "case"
    result = runner.invoke(app, ["scan", str(videos), "--case", str(case), "--skip", "provenance"])
    assert result.exit_code in (0, 1), result.output
    result = runner.invoke(app, ["export", "jsonl", str(case)])
    objs = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    scanned = [o for o in objs if o["mime"] == "video/mp4"]
    assert len(scanned) == len(list(videos.glob("*.mp4")))
    for obj in scanned:
        name = Path(obj["locations"][0]["locator"]).stem
        labels = {
            label for m in obj["matches"] if m["hash_type"] == "vpdq" for label in m["labels"]
        }
        assert name in labels, f"{name} did not match its own hash file: {sorted(labels)}"
        family = name.split("-")[0]
        assert all(label.split("-")[0] == family for label in labels), (
            f"{name} matched another video family: {sorted(labels)}"
        )


def test_resampling_brings_a_dense_list_to_the_scan_grid() -> None:
    dense = [VideoFrame(i, 100, f"{i:064x}", i / 30) for i in range(300)]
    sparse = resample(dense, 1.0)
    assert [f.index for f in sparse] == [i * 30 for i in range(10)]
    assert abs(sampling_interval(dense) - 1 / 30) < 1e-9
    assert resample(dense, 0) == dense
