"""How any file or member name becomes locator text, and back.

Names on evidence are bytes: they may not be UTF-8, may hold newlines or NUL, and may contain the
locator separator ``!/``. A locator must still be one line of valid UTF-8 (SQLite and PostgreSQL
store it as text, and PostgreSQL refuses NUL and lone surrogates), must split back into the same
segments, and must lead back to the exact name so the file can be opened again. So names are
escaped with ``%XX`` (one escape per byte of the name's UTF-8 form), and only where needed:

* a byte that is not valid UTF-8 (Python holds it as a ``surrogateescape`` code point);
* control characters (C0, DEL, C1) and the bidirectional overrides and isolates, which would
  hide or reorder the rest of a name on screen;
* ``/`` inside one name (possible on disk images), and ``!`` at the end of a name, the one place
  it could join a following ``/`` into the separator;
* ``%`` when two hex digits follow it, so that the text cannot be read as an escape.

Everything else, including accented and non-Latin letters, spaces and backslashes, stays as it
is, so most locators read exactly like the names they stand for. The escape is injective, so
distinct names never share a locator.
"""

from __future__ import annotations

import re
from typing import Final

_HEX: Final = frozenset("0123456789abcdefABCDEF")
_ESCAPE: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_BIDI: Final = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))
_NEVER_LITERAL: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(_BIDI)) + "]"
)


def _bytes_of(char: str) -> bytes:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return bytes([code - 0xDC00])
    return char.encode("utf-8", "surrogatepass")


def _pct(data: bytes) -> str:
    return "".join(f"%{b:02X}" for b in data)


def escape_name(name: str) -> str:
    """One name (no path structure) as locator text; ``name`` as ``os.fsdecode`` gives it."""
    if not (_NEVER_LITERAL.search(name) or "/" in name or "%" in name or name.endswith("!")):
        return name  # the usual case: nothing to escape, no per-character pass
    out: list[str] = []
    last = len(name) - 1
    for i, char in enumerate(name):
        if _NEVER_LITERAL.match(char) or char == "/":
            out.append(_pct(_bytes_of(char)))
        elif char == "%" and i + 2 <= last and name[i + 1] in _HEX and name[i + 2] in _HEX:
            out.append("%25")
        elif char == "!" and i == last:
            out.append("%21")
        else:
            out.append(char)
    return "".join(out)


def escape_path(path: str) -> str:
    """A '/'-separated relative path as one locator segment: each name escaped on its own."""
    return "/".join(escape_name(part) for part in path.split("/"))


def unescape(text: str) -> str:
    """The raw name or path behind locator text, undecodable bytes as surrogate escapes.

    Exact for every name that :func:`os.fsdecode` or a ``surrogateescape`` decoder produced.
    """
    if "%" not in text:
        return text
    raw = bytearray()
    at = 0
    for match in _ESCAPE.finditer(text):
        raw += text[at : match.start()].encode("utf-8", "surrogateescape")
        raw.append(int(match[1], 16))
        at = match.end()
    raw += text[at:].encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "surrogateescape")


def normalise_locator_text(text: str) -> str:
    """Escape what can never appear literally in a locator, so a raw name typed in a shell matches.

    Text that is already a locator is returned unchanged.
    """
    if not _NEVER_LITERAL.search(text):
        return text
    return _NEVER_LITERAL.sub(lambda m: _pct(_bytes_of(m[0])), text)
