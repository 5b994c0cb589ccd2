from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image, ImageStat

from veriscan.reports.html import blurred_thumbnail


def test_embedded_thumbnails_are_grey_and_blurred(tmp_path: Path) -> None:
    board = Image.new("RGB", (256, 256), (255, 0, 0))
    for y in range(0, 256, 16):
        for x in range((y // 16) % 2 * 16, 256, 32):
            board.paste((0, 0, 255), (x, y, x + 16, y + 16))
    path = tmp_path / "t.jpg"
    board.save(path, "JPEG", quality=95)
    uri = blurred_thumbnail(path)
    assert uri is not None and uri.startswith("data:image/jpeg;base64,")
    shown = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert shown.mode == "L"
    sharp = ImageStat.Stat(board.convert("L")).stddev[0]
    assert ImageStat.Stat(shown).stddev[0] < sharp / 4


def test_unreadable_thumbnail_is_left_out(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    assert blurred_thumbnail(bad) is None
    assert blurred_thumbnail(tmp_path / "missing.jpg") is None
