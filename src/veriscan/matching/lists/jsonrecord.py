"""One media record's bytes parsed alone, for the records yajl would stop on.

yajl refuses a number outside signed 64 bits, NaN and control bytes, and the refusal ends the
whole file. Such a record is parsed here instead, by :func:`json.loads`, so only that record can
fail; a number no 64-bit column (SQLite, PostgreSQL) or finite double holds is kept as its exact
decimal text, with a note saying so, instead of rejecting the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

INT64 = (-(1 << 63), (1 << 63) - 1)


@dataclass(frozen=True)
class RefusedRecord:
    """A value at the records' level that was not parsed; ``reason`` says why and where."""

    reason: str


@dataclass(frozen=True)
class ParsedRecord:
    value: Any
    notes: tuple[str, ...] = ()


class _NumberText(str):
    """A number JSON allows but a 64-bit column or a float cannot hold, kept as its text."""


def parse_record(start: int, raw: bytes) -> ParsedRecord | RefusedRecord:
    """One record's bytes, already bounded in size and depth, as Python values."""
    wide: list[str] = []

    def whole(text: str) -> int | str:
        if len(text) < 19:
            return int(text)
        value = int(text) if len(text) <= 40 else None
        if value is not None and INT64[0] <= value <= INT64[1]:
            return value
        wide.append(text)
        return _NumberText(text)

    def real(text: str) -> float | str:
        value = float(text)
        if math.isfinite(value):
            return value
        wide.append(text)
        return _NumberText(text)

    try:
        text = raw.decode("utf-8")
        value = json.loads(text, parse_int=whole, parse_float=real, parse_constant=_no_constant)
    except UnicodeDecodeError:
        return RefusedRecord(f"at byte {start} is not valid UTF-8")
    except (ValueError, RecursionError) as exc:
        return RefusedRecord(f"at byte {start} is not valid JSON: {str(exc)[:120]}")
    if not wide:
        return ParsedRecord(value)
    notes: list[str] = []
    return ParsedRecord(_narrow(value, "", notes), tuple(notes))


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not a JSON number")


def _narrow(value: Any, path: str, notes: list[str]) -> Any:
    """Numbers no 64-bit column or finite float holds are kept as their exact text, and said."""
    if isinstance(value, _NumberText):
        shown = value if len(value) <= 40 else value[:37] + "..."
        notes.append(f"{path or 'value'}: number {shown} does not fit 64 bits; kept as text")
        return str(value)
    if isinstance(value, dict):
        return {k: _narrow(v, f"{path}.{k}" if path else k, notes) for k, v in value.items()}
    if isinstance(value, list):
        return [_narrow(v, f"{path}[{i}]", notes) for i, v in enumerate(value)]
    return value
