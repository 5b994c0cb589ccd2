"""Naming policy for archive members: a unique locator segment each, saying what it was.

Sanitising drops what could escape the archive ('..', absolute paths, drive letters) and states it
as a problem; :func:`veriscan.names.escape_path` then keeps every other byte recoverable.
"""

from __future__ import annotations

import re
from typing import Final

from veriscan.domain import SEP, Problem, ProblemCode
from veriscan.names import escape_path

ANALYZER: Final = "archive"
UNNAMED: Final = "unnamed"
_DRIVE: Final = re.compile(r"[A-Za-z]:")


def _sanitise_path(raw: str) -> tuple[str, list[str]]:
    """Make a member name safe to use as a locator segment; also say what was hostile about it.

    Backslashes count as separators because Windows tools write them; absolute, drive-letter and
    '..' parts are dropped rather than the whole name, so the rest still tells the examiner
    where the file claimed to live. Every other character is kept: :func:`escape_path` makes
    undecodable bytes, NUL and newlines visible instead of losing them.
    """
    text = raw.replace("\\", "/")
    hostile: list[str] = []
    if text.startswith("/"):
        hostile.append("absolute")
    if _DRIVE.match(text):
        hostile.append("drive letter")
        text = text[2:]
    segments: list[str] = []
    for segment in text.split("/"):
        if segment == "..":
            if "parent-directory segment" not in hostile:
                hostile.append("parent-directory segment")
        elif segment not in ("", "."):
            segments.append(segment)
    return "/".join(segments), hostile


class MemberNames:
    """Assigns each member a unique, safe path and records why it differs from the raw name."""

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._next_suffix: dict[str, int] = {}

    def assign(self, raw: str) -> tuple[str, list[Problem]]:
        path, hostile = _sanitise_path(raw)
        problems: list[Problem] = []
        if not path:
            path = UNNAMED
            if not hostile:
                problems.append(
                    Problem(ANALYZER, f"member name {raw!r} is empty", ProblemCode.EMPTY_NAME)
                )
        if hostile:
            problems.append(
                Problem(
                    ANALYZER,
                    f"hostile member name {raw!r} ({', '.join(hostile)}), recorded as {path!r}",
                    ProblemCode.HOSTILE_PATH,
                )
            )
        escaped = escape_path(path)
        if SEP in path:
            problems.append(
                Problem(
                    ANALYZER,
                    f"member name {raw!r} contains the locator separator {SEP!r}, "
                    f"recorded as {escaped!r}",
                    ProblemCode.LOCATOR_SEPARATOR,
                )
            )
        path = escaped
        unique = self._unique(path)
        if unique != path:
            problems.append(
                Problem(
                    ANALYZER,
                    f"duplicate member name {path!r}, recorded as {unique!r}",
                    ProblemCode.DUPLICATE_NAME,
                )
            )
        return unique, problems

    def _unique(self, path: str) -> str:
        if path not in self._taken:
            self._taken.add(path)
            return path
        n = self._next_suffix.get(path, 2)
        while f"{path}#{n}" in self._taken:
            n += 1
        self._next_suffix[path] = n + 1
        unique = f"{path}#{n}"
        self._taken.add(unique)
        return unique
