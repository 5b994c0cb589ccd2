"""Prompts are withheld from every output unless asked for, whichever parser read them (issue 15,
item 9): JSONL, the HTML report, `show` (text and JSON) and the review app's detail page. With
`--prompts`, or through the app's logged prompt view, they are there, and each view is audited.

The phrases searched for come from two sides: the prompts the parsers stored (read from the case
with prompts) and the raw generation text read from the files themselves (tests/support), so a
field no parser claims, or a parser added later, cannot slip a prompt past the check.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import REVIEW_PASSWORD, SHARED
from support.prompt_fixtures import (
    A1111_PROMPT,
    CAMERA_MODEL,
    COMFY_PROMPT,
    PROMPTS,
    write_prompt_fixtures,
)
from support.prompt_oracle import carriers, phrases
from veriscan.cli.app import app
from veriscan.redaction import WITHHELD
from veriscan.review import audit
from veriscan.review.users import add_user
from veriscan.store.case import Case
from veriscan.store.queries import content_objects
from veriscan.web.app import create_app

runner = CliRunner()
REVIEWER = "rita"


@dataclass
class Scanned:
    case: Path
    evidence: Path
    # per SHA-256: the phrases that must not appear without prompts, and where the file lies
    secret: dict[str, set[str]] = field(default_factory=dict)
    parsed: dict[str, set[str]] = field(default_factory=dict)
    locator: dict[str, str] = field(default_factory=dict)


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.output


def _scan(evidence: Path, case: Path) -> Scanned:
    invoke("scan", str(evidence), "--case", str(case), "--no-detector", "-j", "2")
    handle = Case.open(case)
    add_user(handle, "cli:test", "boss", "admin", REVIEW_PASSWORD)
    add_user(handle, "cli:test", REVIEWER, "reviewer", REVIEW_PASSWORD)
    out = Scanned(case, evidence)
    for obj in content_objects(handle):
        sha, locator = obj["sha256"], obj["locations"][0]["locator"]
        parsed: set[str] = set()
        for params in (obj.get("ai") or {}).get("params", []):
            for key in ("prompt", "negative_prompt"):
                text = (params.get(key) or "").strip()
                if len(text) >= 16 and " " in text:
                    parsed.add(text[:40])
        raw = {p for text in carriers(evidence / locator) for p in phrases(text)}
        if parsed or raw:
            out.secret[sha], out.parsed[sha], out.locator[sha] = parsed | raw, parsed, locator
    return out


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    root = tmp_path_factory.mktemp("drawn")
    write_prompt_fixtures(root / "evidence")
    return _scan(root / "evidence", root / "case")


def _corpus_subset() -> Iterator[str]:
    """Every generator fixture of the corpus (a1111, comfy, othergen and synthetic, whatever parser
    reads them) and the C2PA files that declare AI generation."""
    rows = (SHARED / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]
    for row in rows:
        cols = row.split("\t")
        rel, category, how = cols[0], cols[1], cols[4]
        ai_c2pa = category == "c2pa" and "lgorithmicMedia" in how
        if category in ("a1111", "comfy", "othergen", "synthetic") or ai_c2pa:
            yield rel


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    if not (SHARED / "MANIFEST.tsv").is_file():
        pytest.skip(f"benign shared corpus not present at {SHARED} (fresh clone): test needs it")
    root = tmp_path_factory.mktemp("corpus")
    for rel in _corpus_subset():
        target = root / "evidence" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED / rel, target)
    return _scan(root / "evidence", root / "case")


@pytest.fixture(params=["drawn", "corpus"])
def scanned(request: pytest.FixtureRequest) -> Scanned:
    result: Scanned = request.getfixturevalue(request.param)
    return result


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def _squash(text: str) -> str:
    """Text without layout: rich folds long cells over lines and frames them."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _leaks(secret: set[str], texts: Iterator[str] | list[str]) -> set[str]:
    found = set()
    for text in texts:
        found |= {s for s in secret if s in text}
    return found


def _reviewer(case: Path) -> TestClient:
    client = TestClient(create_app(case))
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    data = {"username": REVIEWER, "password": REVIEW_PASSWORD, "csrf": token.group(1)}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    return client


def test_the_checks_have_something_to_find(drawn: Scanned) -> None:
    names = {Path(loc).name for loc in drawn.locator.values()}
    assert names >= {"a1111.png", "usercomment.jpg", "comfy_animated.webp", "novelai.png"}
    assert names >= {"swarmui.png", "midjourney.png"}
    found = set().union(*drawn.parsed.values())
    assert all(p[:40] in found for p in PROMPTS if p != "grey clouds, rain, dark winter evening")


def test_jsonl_and_report_withhold_every_prompt(scanned: Scanned, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    invoke("export", "jsonl", str(scanned.case), "-o", str(out))
    for line in out.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        leaked = _leaks(scanned.secret.get(obj["sha256"], set()), list(_strings(obj)))
        assert not leaked, f"JSONL leaks {leaked} of {scanned.locator[obj['sha256']]}"
    invoke("report", str(scanned.case), "-o", str(scanned.case / "r.html"))
    page = html.unescape((scanned.case / "r.html").read_text(encoding="utf-8"))
    for sha, secret in scanned.secret.items():
        assert not _leaks(secret, [page]), f"report leaks a prompt of {scanned.locator[sha]}"
    assert WITHHELD in page

    invoke("export", "jsonl", str(scanned.case), "-o", str(out), "--prompts")
    text = out.read_text(encoding="utf-8")
    objs = [json.loads(line) for line in text.splitlines()]
    for obj in objs:
        parsed = scanned.parsed.get(obj["sha256"], set())
        assert _leaks(parsed, list(_strings(obj))) == parsed
    invoke("report", str(scanned.case), "-o", str(scanned.case / "r.html"), "--prompts")
    page = html.unescape((scanned.case / "r.html").read_text(encoding="utf-8"))
    shown = {p[:40] for obj in objs for p in _prompts(obj)}
    assert shown and _leaks(shown, [page]) == shown


def _prompts(obj: dict[str, object]) -> Iterator[str]:
    ai = obj.get("ai")
    for params in ai.get("params", []) if isinstance(ai, dict) else []:
        if params.get("prompt"):
            yield str(params["prompt"])


def test_show_withholds_unless_asked_and_logs_the_view(scanned: Scanned) -> None:
    case = Case.open(scanned.case)
    for sha, secret in scanned.secret.items():
        where = scanned.locator[sha]
        text = invoke("show", str(scanned.case), sha)
        squashed = {_squash(s): s for s in secret}
        assert not _leaks(set(squashed), [_squash(text)]), f"show leaks a prompt of {where}"
        assert "show --prompts" in text
        as_json = json.loads(invoke("show", str(scanned.case), sha, "--json"))
        assert not _leaks(secret, list(_strings(as_json))), f"show --json leaks {where}"

    sha = next(s for s, p in scanned.parsed.items() if p)
    before = [e for e in audit.entries(case) if e.action == "prompt-view"]
    revealed = json.loads(invoke("show", str(scanned.case), sha, "--json", "--prompts"))
    assert _leaks(scanned.parsed[sha], list(_strings(revealed))) == scanned.parsed[sha]
    text = _squash(invoke("show", str(scanned.case), sha, "--prompts"))
    assert any(_squash(p) in text for p in scanned.parsed[sha])
    after = [e for e in audit.entries(case) if e.action == "prompt-view"]
    assert len(after) == len(before) + 2 and after[-1].object == sha
    assert after[-1].details == {"via": "show"}


def test_review_app_withholds_until_a_logged_prompt_view(scanned: Scanned) -> None:
    client = _reviewer(scanned.case)
    case = Case.open(scanned.case)
    for sha, secret in scanned.secret.items():
        page = client.get(f"/file/{sha}")
        assert page.status_code == 200
        assert not _leaks(secret, [html.unescape(page.text)]), scanned.locator[sha]
        assert f'href="/prompt/{sha}"' in page.text and "withheld" in page.text
    views = len([e for e in audit.entries(case) if e.action == "prompt-view"])
    for sha, parsed in list(scanned.parsed.items())[:5]:
        shown = client.get(f"/prompt/{sha}").text
        assert _leaks(parsed, [shown]) == parsed
        entries = [e for e in audit.entries(case) if e.action == "prompt-view"]
        assert len(entries) == views + 1 and entries[-1].object == sha
        assert entries[-1].user == REVIEWER
        views += 1


def test_comfy_exif_graphs_and_camera_facts(drawn: Scanned, tmp_path: Path) -> None:
    """The defect as reported: Make/Model carry the graphs; a real camera's Make/Model stay."""
    out = tmp_path / "x.jsonl"
    invoke("export", "jsonl", str(drawn.case), "-o", str(out))
    by_name = {
        Path(o["locations"][0]["locator"]).name: o
        for o in map(json.loads, out.read_text(encoding="utf-8").splitlines())
    }
    webp = by_name["comfy_animated.webp"]
    assert webp["exif"]["make"] == WITHHELD and webp["exif"]["model"] == WITHHELD
    assert webp["ai"]["verdict"] == "conclusive" and webp["ai"]["params"][0]["seed"] == 42
    assert by_name["camera.jpg"]["exif"]["model"] == CAMERA_MODEL
    assert by_name["a1111.png"]["ai"]["params"][0]["model"] == "demoLandscapes_v1"
    raw = out.read_text(encoding="utf-8")
    assert COMFY_PROMPT not in raw and A1111_PROMPT not in raw
