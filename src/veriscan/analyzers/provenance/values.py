"""Value coercions shared by the generator parsers.

Metadata holds a number as a number, an integral float or a string, and tools write "None" or "" for
an unset field; these read such values leniently and refuse anything that is not finite or too long.
"""

from __future__ import annotations

import math
import re
from typing import Any

from veriscan.analyzers.provenance.base import (
    JSON,
    MAX_TEXT_BYTES,
    ProvenanceError,
    load_json,
)

MAX_LORAS = 256  # per record: real generations use a handful; raw keeps the rest


def as_int(value: Any) -> int | None:
    """An integer from JSON that may hold it as a number, an integral float or a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and len(value) < 64:
        if re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
        number = as_float(value)
        return int(number) if number is not None and number.is_integer() else None
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and len(value) < 64:
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_text(value: Any) -> str | None:
    """A non-empty string; tools write "None" or "" for an unset field."""
    if isinstance(value, str):
        text = value.strip()
        return text if text and text != "None" else None
    return None


def json_text(text: str, what: str) -> JSON:
    """load_json, refusing text cut at the reader's size limit without scanning all of it."""
    if len(text) >= MAX_TEXT_BYTES:
        raise ProvenanceError(f"{what}: {len(text)} characters, at the size limit (truncated)")
    return load_json(text, what)
