"""What a file says about how it was generated, read here independently of veriscan's parsers.

The withholding tests search every output for these phrases: if a parser (or a new one) lets any
of them through, the test names the file, the output and the phrase.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

# PNG text chunks generators write parameters into (A1111, ComfyUI, InvokeAI, NovelAI, Fooocus,
# SwarmUI, Easy Diffusion, Midjourney).
GENERATION_CHUNKS = frozenset(
    {
        "parameters",
        "prompt",
        "workflow",
        "comment",
        "description",
        "dream",
        "sd-metadata",
        "invokeai_metadata",
        "invokeai_graph",
        "invokeai_workflow",
        "sui_image_params",
        "negative_prompt",
        "fooocus_scheme",
    }
)
_TEXT_KEYS = re.compile(r"prompt|^text(_[gl])?$|^widgets_values$|^uc$|^negative|^positive", re.I)
_FILE = re.compile(r"\.(safetensors|ckpt|pt|pth|bin|gguf|png|jpe?g|webp)\b", re.I)
_LABEL = re.compile(r"[A-Za-z ]+:")  # an infotext label with an empty value says nothing
_PREFIX = re.compile(r"^\s*(workflow|prompt)\s*:\s*", re.I)


def _user_comment(raw: object) -> str | None:
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes) or len(raw) < 8:
        return None
    head, body = raw[:8], raw[8:]
    if head.startswith(b"UNICODE"):
        be, le = body.decode("utf-16-be", "replace"), body.decode("utf-16-le", "replace")
        return be if be.isascii() or not le.isascii() else le
    return body.decode("utf-8", "replace")


def carriers(path: Path) -> Iterator[str]:
    """The raw generation text of a file: PNG chunks, EXIF UserComment, ComfyUI's EXIF graphs."""
    try:
        with Image.open(path) as img:
            text = dict(getattr(img, "text", {}) or {})
            exif = img.getexif()
            comment = exif.get_ifd(0x8769).get(0x9286)
            make, model = exif.get(0x010F), exif.get(0x0110)
    except (OSError, ValueError, SyntaxError):
        return
    for key, value in text.items():
        if key.lower() in GENERATION_CHUNKS and isinstance(value, str):
            yield value
    decoded = _user_comment(comment)
    if decoded:
        yield decoded
    for value in (make, model):
        if isinstance(value, str) and _PREFIX.match(value):
            yield value


def _leaves(node: object, key: str | None) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from _leaves(item, key)
    elif isinstance(node, str) and (key is None or _TEXT_KEYS.search(key)):
        yield node


def phrases(text: str) -> set[str]:
    """Distinctive pieces of generation text: prompt-like lines and JSON prompt strings, cut to
    40 characters, wordy enough (16+ characters with a space) never to occur by chance."""
    body = _PREFIX.sub("", text, count=1)
    try:
        doc = json.loads(body)
    except ValueError:
        pieces: list[str] = [body, *body.splitlines()]
    else:
        pieces = list(_leaves(doc, None))
    out = set()
    for piece in pieces:
        piece = piece.strip()
        if _LABEL.fullmatch(piece) or _FILE.search(piece):
            continue
        if len(piece) >= 16 and " " in piece:
            out.add(piece[:40])
    return out
