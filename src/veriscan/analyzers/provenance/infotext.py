"""The ``Key: value, ...`` parameter line of A1111-format infotext, split into ordered pairs.

Writers quote values inconsistently (JSON strings, bare JSON objects, bare text with commas), so the
line is split by a small forward-only scanner whose patterns cannot backtrack: evidence files can be
hostile, and the text may be megabytes.
"""

from __future__ import annotations

import json
import re

import numpy as np

from veriscan.analyzers.provenance.base import JSON, MAX_JSON_DEPTH

MAX_WARNINGS = 20
MAX_PAIRS = 2000
MAX_JSON_TRIES = 16
MAX_JSON_VALUE = 1 << 20

KEY = re.compile(r"[ \t]*+(\w[\w \-/.()+']{0,79}+):(?=\s|$)[ \t]*+")
_QUOTED = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_NEXT_KEY = re.compile(r",[ \t]*+\w[\w \-/.()+']{0,79}+:(?=\s|$)")
_VALUE_END = re.compile(r"\s*+(?:,|$)")
_DECODER = json.JSONDecoder()

Pairs = list[tuple[str, JSON]]


def split_params(line: str) -> tuple[Pairs, list[str]]:
    """``Key: value, Key: "quoted, value", Key: {"json": 1}`` as (key, value) pairs, in order.

    Text that is not a pair (a bare comma inside an unquoted value) is joined to the value
    before it, as the writer meant; a broken quote falls back to the next comma.
    """
    return _Scanner(line).pairs()


class _Scanner:
    """One parameter line, scanned left to right; every step moves forward.

    JSON decoding is bounded: values over MAX_JSON_VALUE stay text (real ones are kilobytes and
    Python's decoder is slow on millions of tiny objects), and a failed decode costs time
    proportional to its input, so the number of tries per line is capped too.
    """

    def __init__(self, line: str) -> None:
        self.line = line
        self.json_budget = MAX_JSON_TRIES
        self.warnings: list[str] = []

    def pairs(self) -> tuple[Pairs, list[str]]:
        line, end, pos = self.line, len(self.line), 0
        found: list[tuple[str, JSON, list[str]]] = []
        while pos < end:
            if len(found) >= MAX_PAIRS:
                self.warn(f"over {MAX_PAIRS} parameters: the rest is kept only in the raw text")
                break
            match = KEY.match(line, pos)
            if match is None:
                following = _NEXT_KEY.search(line, pos)
                stop = end if following is None else following.start()
                piece = line[pos:stop]
                if found and isinstance(found[-1][1], str):
                    found[-1][2].append(piece)
                elif piece.strip():
                    self.warn(f"text outside any key: {piece.strip()[:80]!r}")
                pos = stop + 1
                continue
            key = match.group(1).strip()
            value, pos = self.value(match.end(), key)
            found.append((key, value, []))
        pairs: Pairs = [
            (key, ",".join([value, *more]) if more else value) for key, value, more in found
        ]
        return pairs, self.warnings

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)

    def value(self, pos: int, key: str) -> tuple[JSON, int]:
        line = self.line
        first = line[pos : pos + 1]
        if first == '"':
            match = _QUOTED.match(line, pos)
            after = None if match is None else _value_end(line, match.end())
            if match is not None and after is not None:
                try:
                    text: str = json.loads(match.group())
                except ValueError:
                    text = match.group()[1:-1]
                return self.json_in_string(text), after
            self.warn(f"{key}: unterminated or malformed quoted value")
        elif first in ("{", "[") and self.json_budget > 0:
            self.json_budget -= 1
            window = line[pos : pos + MAX_JSON_VALUE]
            try:
                value, stop = _DECODER.raw_decode(window)
            except (ValueError, RecursionError):
                return _plain(line, pos)
            after = _value_end(line, pos + stop)
            if after is not None and _shallow(window[:stop]):
                return value, after
        return _plain(line, pos)

    def json_in_string(self, text: str) -> JSON:
        if text[:1] not in "{[" or text[-1:] not in "}]" or len(text) > MAX_JSON_VALUE:
            return text
        if self.json_budget <= 0:
            return text
        self.json_budget -= 1
        try:
            parsed = _DECODER.decode(text)
        except (ValueError, RecursionError):
            return text
        return parsed if _shallow(text) else text


def _plain(line: str, pos: int) -> tuple[str, int]:
    comma = line.find(",", pos)
    stop = len(line) if comma < 0 else comma
    return line[pos:stop].strip(), stop + 1


def _value_end(line: str, pos: int) -> int | None:
    """Where the next pair starts when a quoted or JSON value ends at ``pos``; None if text
    follows it before the comma (then the value is not what it seemed)."""
    match = _VALUE_END.match(line, pos)
    return None if match is None else match.end()


def _shallow(text: str) -> bool:
    """Whether decoded JSON nests within MAX_JSON_DEPTH, so reports and the store can serialise
    it; counted on the text with strings removed, in numpy, as values can be megabytes."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return True
    skeleton = np.frombuffer(_QUOTED.sub("", text).encode("utf-8", "replace"), np.uint8)
    opens = (skeleton == ord("[")) | (skeleton == ord("{"))
    closes = (skeleton == ord("]")) | (skeleton == ord("}"))
    depth = np.cumsum(opens.astype(np.int32) - closes.astype(np.int32))
    return int(depth.max(initial=0)) <= MAX_JSON_DEPTH
