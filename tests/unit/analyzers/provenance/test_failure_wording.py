"""Provenance failures that reach a stored problem never quote an exception (issue 15)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from veriscan.analyzers.provenance.base import ProvenanceError
from veriscan.analyzers.provenance.c2pa import read_c2pa
from veriscan.analyzers.provenance.redecide import RedecideError, redecide

LIBRARY_TEXT = ("Error", "[Errno", "'params'", "KeyError", "Traceback")


def test_unreadable_stored_verdict_wording() -> None:
    with pytest.raises(RedecideError) as caught:
        redecide({"verdict": "none found"}, {"verdict": "flagged", "score": 0.9})
    message = str(caught.value)
    assert message.startswith("stored verdict not readable by this version")
    assert not any(text in message for text in LIBRARY_TEXT), message


def test_missing_trust_anchors_file_wording(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buf, "JPEG")
    missing = tmp_path / "missing.pem"
    with pytest.raises(ProvenanceError) as caught:
        read_c2pa(buf.getvalue(), "image/jpeg", str(missing))
    message = str(caught.value)
    assert message == f"C2PA trust anchors file {missing} unreadable: No such file or directory"
