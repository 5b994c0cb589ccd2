"""Hostile and broken archives become problem records; the run completes and evidence is intact."""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

from veriscan.pipeline.ingest import ingest
from veriscan.plugins import load_registry
from veriscan.settings import Settings
from veriscan.sources.folder import FolderSource
from veriscan.store.case import Case
from veriscan.store.queries import problem_rows


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


def encrypt_flag(data: bytes) -> bytes:
    """Mark every member encrypted (bit 0 of the flags) in local and central headers."""
    raw = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = raw.find(sig)
        while pos != -1:
            raw[pos + off] |= 1
            pos = raw.find(sig, pos + 4)
    return bytes(raw)


def build(root: Path) -> None:
    root.mkdir()
    (root / "bomb.zip").write_bytes(zip_bytes({"zeros.bin": bytes(30 << 20), "ok.txt": b"fine\n"}))
    (root / "traversal.zip").write_bytes(zip_bytes({"../../etc/evil.txt": b"escape\n"}))
    whole = zip_bytes({"a.txt": b"a" * 5000, "b.txt": b"b" * 5000}, zipfile.ZIP_STORED)
    (root / "truncated.zip").write_bytes(whole[: len(whole) // 2])
    (root / "locked.zip").write_bytes(
        encrypt_flag(zip_bytes({"secret.txt": b"x" * 100}, zipfile.ZIP_STORED))
    )
    nested = b"innermost\n"
    for level in range(4):
        nested = zip_bytes({f"level{level}.zip" if level else "deep.txt": nested})
    (root / "russian-doll.zip").write_bytes(nested)
    (root / "dups.zip").write_bytes(_dup_zip())


def _dup_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("same.txt", b"first\n")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zf.writestr("same.txt", b"second\n")
    return buf.getvalue()


def test_hostile_archives_are_problems_not_crashes(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    build(root)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.iterdir()}
    settings = Settings(workers=1, archive_max_ratio=100, archive_max_depth=2)
    case = Case.init(tmp_path / "case", "t", "t")
    src = FolderSource(root, settings)
    ev = case.add_evidence("ev", None, "folder", str(root))
    report = ingest(case, ev, src, load_registry(), settings, command="t", executor="inline")
    assert report.status == "completed"
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.iterdir()} == before

    codes = {(r["locator"], r["code"]) for r in problem_rows(case)}
    assert ("bomb.zip!/zeros.bin", "bomb-ratio") in codes
    assert ("traversal.zip!/etc/evil.txt", "hostile-path") in codes
    assert any(loc == "truncated.zip" and code == "archive-error" for loc, code in codes)
    assert ("locked.zip!/secret.txt", "encrypted") in codes
    assert ("dups.zip!/same.txt#2", "duplicate-name") in codes
    assert any(code == "bomb-depth" for _, code in codes)

    with case.engine.connect() as conn:
        rows = dict(conn.exec_driver_sql("select locator, sha256 from locations").fetchall())
    assert rows["bomb.zip!/ok.txt"] is not None, "siblings of a ratio bomb are still analysed"
    assert rows["bomb.zip!/zeros.bin"] is None, "a bomb member is not stored as content"
    assert rows["traversal.zip!/etc/evil.txt"] is not None, "hostile names are still analysed"
    assert rows["locked.zip!/secret.txt"] is None
    assert rows["truncated.zip"] is not None, "a broken archive is still hashed as a file"
    assert rows["russian-doll.zip!/level3.zip!/level2.zip"] is not None
    assert not any(k.endswith("deep.txt") for k in rows), "beyond the depth limit: not expanded"
