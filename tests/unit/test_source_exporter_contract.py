"""Contract tests every registered evidence source and exporter gets, built-ins and third-party
alike (the other plugin families have theirs beside their code's tests)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veriscan.cli.app import app
from veriscan.plugins import load_registry
from veriscan.settings import Settings
from veriscan.sources.base import EvidenceSource, SourceError
from veriscan.store.case import Case

REGISTRY = load_registry()
SOURCES = REGISTRY.sources()
EXPORTERS = REGISTRY.exporters()


def _fingerprint(root: Path) -> dict[str, tuple[int, int, str]]:
    """Size, mtime and SHA-256 of every file below ``root``: what a read-only source must keep."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        st = path.stat()
        out[str(path)] = (st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def _samples(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"alpha\n")
    (folder / "sub" / "b.bin").write_bytes(os.urandom(3000))
    single = tmp_path / "single.txt"
    single.write_bytes(b"one file\n")
    return {"folder": folder, "file": single}


@pytest.mark.parametrize("source_cls", SOURCES, ids=lambda c: c.id)
def test_source_refuses_what_is_not_there(source_cls: type[EvidenceSource], tmp_path: Path) -> None:
    assert isinstance(source_cls.id, str) and source_cls.id
    assert source_cls.accepts(tmp_path / "missing") is False


@pytest.mark.parametrize("source_cls", SOURCES, ids=lambda c: c.id)
def test_source_reads_what_it_accepts_without_writing(
    source_cls: type[EvidenceSource], tmp_path: Path
) -> None:
    """Whatever sample a source accepts, its items have unique locators, every file item opens
    read-only to the bytes on disk, and nothing of the evidence changes (mtimes included)."""
    accepted = [p for p in _samples(tmp_path).values() if source_cls.accepts(p)]
    if not accepted:
        pytest.skip(f"{source_cls.id} accepts none of the plain samples (it reads other evidence)")
    for path in accepted:
        before = _fingerprint(path if path.is_dir() else path.parent)
        source = source_cls(path, Settings())
        items = list(source.items())
        locators = [str(i.locator) for i in items]
        assert items and len(set(locators)) == len(locators)
        for item in items:
            with source.open_item(item) as stream:
                data = stream.read()
                with pytest.raises(io.UnsupportedOperation):
                    stream.write(b"x")  # opened read-only
            on_disk = path / item.locator.segments[0] if path.is_dir() else path
            assert data == on_disk.read_bytes()
        assert _fingerprint(path if path.is_dir() else path.parent) == before


@pytest.mark.parametrize("source_cls", SOURCES, ids=lambda c: c.id)
def test_source_refuses_wrong_evidence_with_a_source_error(
    source_cls: type[EvidenceSource], tmp_path: Path
) -> None:
    samples = _samples(tmp_path)
    for path in samples.values():
        if source_cls.accepts(path):
            continue
        with pytest.raises((SourceError, OSError)):
            list(source_cls(path, Settings()).items())


@pytest.fixture(scope="module")
def scanned_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exporters")
    evidence = root / "evidence"
    evidence.mkdir()
    (evidence / "note.txt").write_text("a benign note\n")
    (evidence / "data.bin").write_bytes(bytes(range(256)) * 8)
    result = CliRunner().invoke(app, ["scan", str(evidence), "--case", str(root / "case")])
    assert result.exit_code in (0, 1), result.output
    return root / "case"


@pytest.mark.parametrize("exporter_cls", EXPORTERS, ids=lambda c: c.id)
def test_exporter_writes_the_same_export_twice_and_leaves_the_case_alone(
    exporter_cls: type, scanned_case: Path
) -> None:
    assert isinstance(exporter_cls.id, str) and isinstance(exporter_cls.suffix, str)
    case = Case.open(scanned_case)
    try:
        db_before = (scanned_case / "case.db").read_bytes()
        outputs, counts = [], []
        for _ in range(2):
            out = io.StringIO()
            counts.append(exporter_cls().write(case, out))
            outputs.append(out.getvalue())
        assert outputs[0] and counts[0] == counts[1] and counts[0] >= 0
        assert outputs[0] == outputs[1], "an export of an unchanged case is the same export"
        assert (scanned_case / "case.db").read_bytes() == db_before
    finally:
        case.close()
