"""Shared fixtures: benign images drawn in code, the optional shared corpus, small cases."""

from __future__ import annotations

import io
import os
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


PG_BASE = os.environ.get("VERISCAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL case URL in a schema of its own, dropped afterwards. CI sets
    VERISCAN_REQUIRE_POSTGRES=1: there an unreachable server fails the test instead of skipping."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg (the [cluster] extra) not installed")
    try:
        psycopg.connect(PG_BASE, connect_timeout=5).close()
    except psycopg.Error as exc:
        message = f"PostgreSQL not reachable at {PG_BASE}: {exc}"
        if os.environ.get("VERISCAN_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    name = f"vs_test_{uuid.uuid4().hex[:12]}"
    yield f"{PG_BASE}?options=-csearch_path%3D{name}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED / "MANIFEST.tsv").is_file():
        pytest.skip(f"benign shared corpus not present at {SHARED} (fresh clone): test needs it")
    return SHARED


def draw_scene(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A landscape of shapes: sky, sun, hills; different per seed."""
    rnd = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size, (rnd.randrange(90, 160), rnd.randrange(150, 220), 250))
    d = ImageDraw.Draw(img)
    d.ellipse([w * 0.7, h * 0.1, w * 0.85, h * 0.3], fill=(255, 220, 80))
    for i in range(3):
        base = h * (0.5 + 0.15 * i)
        pts = [(0, h), (0, base)]
        pts += [(x, base - rnd.randrange(0, int(h * 0.2))) for x in range(0, w + 40, 40)]
        pts += [(w, h)]
        d.polygon(pts, fill=(30 + 40 * i, 120 - 20 * i, 40 + rnd.randrange(0, 60)))
    return img


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def scene() -> Callable[..., Image.Image]:
    return draw_scene


@pytest.fixture
def small_evidence(tmp_path: Path) -> Path:
    """A folder with images, a duplicate, a nested zip, a corrupt JPEG and a text file."""
    import zipfile

    root = tmp_path / "evidence"
    (root / "DCIM").mkdir(parents=True)
    (root / "docs").mkdir()
    for i in range(4):
        (root / "DCIM" / f"IMG_{i:04d}.JPG").write_bytes(encode(draw_scene(i), "JPEG", quality=90))
    (root / "DCIM" / "copy_of_0.jpg").write_bytes((root / "DCIM" / "IMG_0000.JPG").read_bytes())
    (root / "docs" / "diagram.png").write_bytes(encode(draw_scene(99), "PNG"))
    (root / "docs" / "renamed.dll").write_bytes(encode(draw_scene(5), "PNG"))
    (root / "docs" / "notes.txt").write_text("meeting at noon\n")
    good = encode(draw_scene(7), "JPEG", quality=90)
    (root / "docs" / "broken.jpg").write_bytes(good[: len(good) // 2])
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep/photo.png", encode(draw_scene(11), "PNG"))
    with zipfile.ZipFile(root / "holiday.zip", "w") as zf:
        zf.writestr("a.jpg", encode(draw_scene(12), "JPEG"))
        zf.writestr("inner.zip", inner.getvalue())
    return root


@pytest.fixture(autouse=True)
def _private_list_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty hash-list library, never the examiner's own."""
    library = tmp_path / "list-library"
    monkeypatch.setenv("VERISCAN_LIBRARY", str(library))
    return library


REVIEW_PASSWORD = "correct horse battery"


def build_review_case(root: Path, users: tuple[tuple[str, str], ...]) -> Path:
    """The demo evidence (with the AI-styled samples) scanned into a case, with accounts: the
    first of ``users`` must be an admin."""
    from typer.testing import CliRunner

    from veriscan.cli.app import app
    from veriscan.demo.ai import add_ai_samples
    from veriscan.demo.evidence import make_demo_evidence
    from veriscan.review.users import add_user
    from veriscan.store.case import Case

    make_demo_evidence(root / "evidence")
    add_ai_samples(root / "evidence")
    result = CliRunner().invoke(app, ["scan", str(root / "evidence"), "--case", str(root / "case")])
    assert result.exit_code in (0, 1), result.output
    case = Case.open(root / "case")
    for name, role in users:
        add_user(case, "cli:test", name, role, REVIEW_PASSWORD)
    return root / "case"
