"""Third-party plugins installed through entry points (a throwaway dist-info), end to end through
the CLI: an analyzer with its own settings table, an exporter run by `export ID`, and the built-in
classifier slot configured from veriscan.toml with a tiny model built here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from conftest import REVIEW_PASSWORD
from support.onnx_models import tiny_classifier
from support.plugin_dist import install_plugin
from support.web_server import log_in
from veriscan.cli.app import app
from veriscan.review import queue as grid
from veriscan.review.users import add_user
from veriscan.store.case import Case
from veriscan.web.app import create_app

runner = CliRunner()

PLUGIN = """
from dataclasses import dataclass
from typing import ClassVar

from veriscan.api import Analyzer, Attribute, Exporter, FileContext


@dataclass(frozen=True)
class WordConfig:
    min_len: int = 1
    marker: str = "*"


class WordCount(Analyzer):
    id: ClassVar[str] = "wordcount"
    version: ClassVar[str] = "1"
    Config = WordConfig

    def wants(self, mime):
        return mime == "text/plain"

    def analyze(self, ctx: FileContext):
        words = [w for w in ctx.data.decode().split() if len(w) >= self.config.min_len]
        return [Attribute("words", len(words)), Attribute("marker", self.config.marker)]


class ShaList(Exporter):
    id: ClassVar[str] = "shalist"
    suffix: ClassVar[str] = ".txt"

    def write(self, case, out, *, thumbnails=False, prompts=False, known_good=True):
        from veriscan.store.queries import content_objects

        shas = [obj["sha256"] for obj in content_objects(case)]
        out.write("".join(s + "\\n" for s in shas))
        return len(shas)


class NotAnExporter:
    id = "broken"
"""


@pytest.fixture
def plugged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_plugin(
        tmp_path,
        monkeypatch,
        "veriscan-test-plugin",
        {
            "veriscan.analyzers": {
                "wordcount": "vs_test_plugin:WordCount",
                # the built-in slot, until `pip install -e .` refreshes veriscan's own entry points
                "classifier": "veriscan.analyzers.classifiers:ClassifierAnalyzer",
            },
            "veriscan.exporters": {"shalist": "vs_test_plugin:ShaList"},
        },
        {"vs_test_plugin": PLUGIN},
    )
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "notes.txt").write_text("a bb ccc dddd\n")
    for i, colour in enumerate([(250, 200, 30), (20, 230, 40), (20, 40, 230)]):
        img = Image.new("RGB", (16 + 8 * i, 16 + 8 * i), colour)
        img.paste((255, 255, 255), (0, 0, 6, 6))
        img.save(evidence / f"drawing_{i}.png")
    return evidence


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "veriscan.toml"
    path.write_text(text)
    return path


CLASSIFIER = """
[veriscan.classifiers.tiny]
model = "{model}"
size = 8
mean = [0.5, 0.5, 0.5]
std = [0.25, 0.25, 0.25]
labels = ["calm", "busy"]
flag = {{ label = "busy", threshold = 0.9 }}
"""


def add(tmp_path: Path, evidence: Path, config: Path) -> tuple[int, str, Path]:
    case = tmp_path / "case"
    if not case.exists():
        init = runner.invoke(app, ["case", "init", str(case), "--name", "n", "--examiner", "e"])
        assert init.exit_code == 0, init.output
    args = ["add", str(case), str(evidence), "--label", "x", "--config", str(config), "-j", "1"]
    result = runner.invoke(app, [*args, "--executor", "inline", "--no-detector"])
    return result.exit_code, result.output, case


def test_third_party_analyzer_with_its_own_table_and_exporter(
    tmp_path: Path, plugged: Path
) -> None:
    config = toml(
        tmp_path, "[veriscan]\npdq = 'exact'\n[veriscan.analyzers.wordcount]\nmin_len = 3\n"
    )
    code, text, case = add(tmp_path, plugged, config)
    assert code == 0, text
    out = tmp_path / "e.jsonl"
    assert runner.invoke(app, ["export", "jsonl", str(case), "-o", str(out)]).exit_code == 0
    objs = [json.loads(line) for line in out.read_text().splitlines()]
    note = next(o for o in objs if o["mime"] == "text/plain")
    assert note["findings"]["wordcount"] == {"words": 2, "marker": "*"}
    assert all(o["classifiers"] is None for o in objs)  # none configured
    assert all(o["pdq"]["mode"] == "exact" for o in objs if o["pdq"])  # the flat table still works
    record = Case.open(case).engine.connect().exec_driver_sql("select settings from runs")
    stored = json.loads(record.scalar_one())
    assert stored["plugin_tables"] == {"analyzers": {"wordcount": {"min_len": 3}}}
    listed = tmp_path / "shas.txt"
    result = runner.invoke(app, ["export", "shalist", str(case), "-o", str(listed)])
    assert result.exit_code == 0, result.output
    assert sorted(listed.read_text().split()) == sorted(o["sha256"] for o in objs)
    unknown = runner.invoke(app, ["export", "nosuch", str(case)])
    assert unknown.exit_code == 2 and "No such command 'nosuch'" in unknown.output


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[veriscan.analyzers.wordcount]\nmin_lenght = 3\n", "unknown setting 'min_lenght'"),
        ("[veriscan.analyzers.wordcount]\nmin_len = 'three'\n", "setting 'min_len'"),
        ("[veriscan.analyzers.nosuch]\nx = 1\n", "[veriscan.analyzers.nosuch] names no"),
        ("[veriscan.analyzers.hashes]\nx = 1\n", "unknown setting 'x' in [veriscan.analyzers"),
    ],
)
def test_a_bad_plugin_table_stops_the_run_with_one_line(
    tmp_path: Path, plugged: Path, table: str, message: str
) -> None:
    code, text, _ = add(tmp_path, plugged, toml(tmp_path, table))
    assert code == 2, text
    assert message in text and len(text.strip().splitlines()) == 1, text


def test_classifier_scores_reach_jsonl_show_report_and_grid(tmp_path: Path, plugged: Path) -> None:
    model = tiny_classifier(tmp_path / "tiny.onnx")
    code, text, case = add(tmp_path, plugged, toml(tmp_path, CLASSIFIER.format(model=model)))
    assert code == 0, text
    out = tmp_path / "e.jsonl"
    assert runner.invoke(app, ["export", "jsonl", str(case), "-o", str(out)]).exit_code == 0
    objs = [json.loads(line) for line in out.read_text().splitlines()]
    images = [o for o in objs if o["mime"] == "image/png"]
    assert len(images) == 3
    import hashlib

    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    for o in images:
        result = o["classifiers"]["tiny"]
        assert result["model_sha256"] == sha
        assert set(result["scores"]) == {"calm", "busy"}
        assert sum(result["scores"].values()) == pytest.approx(1.0)
        assert result["flagged"] is (result["scores"]["busy"] >= 0.9)
    assert next(o for o in objs if o["mime"] == "text/plain")["classifiers"] is None
    flagged = {o["sha256"] for o in images if o["classifiers"]["tiny"]["flagged"]}
    assert 0 < len(flagged) < 3, [o["classifiers"] for o in images]

    shown = runner.invoke(app, ["show", str(case), images[0]["sha256"]])
    assert shown.exit_code == 0, shown.output
    flat = " ".join(shown.output.split())
    assert sha in flat and "the supplied model's estimate" in flat
    assert "veriscan ships no content classifier" in flat

    report = tmp_path / "case" / "r.html"
    assert runner.invoke(app, ["report", str(case), "-o", str(report)]).exit_code == 0
    html = report.read_text()
    assert sha in html and "veriscan ships no content classifier" in html

    opened = Case.open(case)
    cells, total = grid.page(opened, grid.Filters(classifier="tiny"))
    assert {c.sha256 for c in cells} == flagged and total == len(flagged)
    by_busy = grid.Filters(by_score="tiny:busy")
    order = [c.sha256 for c in grid.page(opened, by_busy)[0]]
    expected = sorted(images, key=lambda o: -o["classifiers"]["tiny"]["scores"]["busy"])
    assert order == [o["sha256"] for o in expected]
    assert grid.choices(opened)["scores"] == ["tiny:busy", "tiny:calm"]

    add_user(opened, "cli:test", "ann", "admin", REVIEW_PASSWORD)
    client = TestClient(create_app(case), raise_server_exceptions=False)
    log_in(client, "ann", REVIEW_PASSWORD)
    page = client.get("/", params={"classifier": "tiny", "by_score": "tiny:busy"})
    assert page.status_code == 200 and "Classifier flagged" in page.text
    shown = re.findall(r'data-sha="([0-9a-f]{64})"', page.text)
    assert list(dict.fromkeys(shown)) == [s for s in order if s in flagged]
    for bad in ({"by_score": "tiny"}, {"classifier": "a'b"}, {"by_score": "t:" + "x" * 200}):
        assert client.get("/grid", params=bad).status_code == 422


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("garbage", "not a usable ONNX model"),
        ("wrong-shape", "input shape 1x3x16x16 does not take 1x3x8x8"),
    ],
)
def test_a_bad_classifier_model_fails_at_start_with_exit_2(
    tmp_path: Path, plugged: Path, make: str, message: str
) -> None:
    model = tmp_path / "model.onnx"
    if make == "garbage":
        model.write_bytes(b"\x08\x07garbage, not a protobuf graph")
    else:
        tiny_classifier(model, side=16)
    code, text, case = add(tmp_path, plugged, toml(tmp_path, CLASSIFIER.format(model=model)))
    assert code == 2, text
    assert message in text and len(text.strip().splitlines()) == 1, text
    assert not re.search(r"Traceback", text)
    runs = Case.open(case).engine.connect().exec_driver_sql("select count(*) from runs")
    assert runs.scalar_one() == 0, "nothing was scanned"
