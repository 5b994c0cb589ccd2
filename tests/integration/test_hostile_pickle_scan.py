"""A scan flags every hostile pickle as model-code-execution in the JSONL export, and runs none.

Issue 15 item 17: plain pickles (protocols 0-5, .ckpt/.pt/.pth/.pkl) and a PyTorch zip whose
data.pkl comes after 24 members went through a scan with no problem recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from support.hostile_models import EXTENSIONS, PROTOCOLS, late_pickle_zip, system_pickle
from veriscan.cli.app import app


def test_scan_flags_plain_pickles_and_late_data_pkl(tmp_path: Path) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    marker = tmp_path / "ran"
    expected = set()
    for protocol in PROTOCOLS:
        for ext in EXTENSIONS:
            name = f"p{protocol}{ext}"
            (evidence / name).write_bytes(system_pickle(marker, protocol))
            expected.add(name)
    (evidence / "late.pt").write_bytes(late_pickle_zip(system_pickle(marker, 2)))
    expected.add("late.pt")
    (evidence / "plain.txt").write_text("nothing to see\n", encoding="utf-8")

    runner = CliRunner()
    case = tmp_path / "case"
    result = runner.invoke(app, ["scan", str(evidence), "--case", str(case), "--workers", "1"])
    assert result.exit_code == 1, result.output  # completed, with problems
    out = tmp_path / "x.jsonl"
    result = runner.invoke(app, ["export", "jsonl", str(case), "-o", str(out)])
    assert result.exit_code == 0, result.output

    flagged = set()
    for line in out.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        codes = {p.get("code") for p in record["problems"]}
        if "model-code-execution" in codes:
            flagged |= {loc["locator"] for loc in record["locations"]}
    assert expected <= flagged, sorted(expected - flagged)
    assert "plain.txt" not in flagged
    assert not marker.exists(), "no pickle may ever be loaded"
