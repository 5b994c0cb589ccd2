"""Fixed forensic wordings for what goes wrong on a file, and the developers' run log.

A problem message is read by an examiner and may be quoted in court, so it says what is wrong
with the file ("image data truncated: the file ends after 812 bytes"), never how the program
failed ("'NoneType' object has no attribute 'width'"). The exception itself, with its traceback,
goes to the case's run log (``CASE/logs/run-<run id>.log``) for developers only.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from veriscan.domain import ProblemCode

LOGGER = logging.getLogger("veriscan.analyzers")
LOGGER.addHandler(logging.NullHandler())  # no run log attached: nothing reaches the console
LOGGER.propagate = False
_FORMAT = "%(asctime)s %(process)d %(levelname)s %(message)s"

INTERNAL = "internal error; details are in the case's run log"

UNIDENTIFIED = "no image decoder recognises these bytes"
"""Pillow's own message names a memory address, which would make two runs' records differ."""

_TRUNCATED_HINTS = (
    "truncated",
    "premature end",
    "unexpected end",
    "not enough data",
    "buffer is not large enough",
    "ran out of data",
    "end of file",
)


def attach_run_log(case_root: Path, run_id: str) -> None:
    """Send this process's analyzer log to the case's run log; idempotent, switches per run.

    Workers are separate processes that live for one run, so each attaches on its first file.
    """
    path = case_root / "logs" / f"run-{run_id}.log"
    for handler in LOGGER.handlers:
        if isinstance(handler, logging.FileHandler) and handler.baseFilename == str(path):
            return
    for handler in list(LOGGER.handlers):
        if isinstance(handler, logging.FileHandler):
            LOGGER.removeHandler(handler)
            handler.close()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    except OSError:
        return  # a read-only case still scans; only the developers' detail is lost
    handler.setFormatter(logging.Formatter(_FORMAT))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)


def log_exception(where: str, name: str, exc: BaseException) -> None:
    """The exception and its traceback, for developers; never part of a stored message."""
    LOGGER.warning("%s failed on %r (pid %d)", where, name, os.getpid(), exc_info=exc)


def is_truncation(exc: BaseException) -> bool:
    if isinstance(exc, EOFError):
        return True
    text = str(exc).lower()
    return any(hint in text for hint in _TRUNCATED_HINTS)


def decode_failure(exc: BaseException, fmt: str, size: int) -> tuple[ProblemCode, str]:
    """(code, wording) for an exception raised while decoding ``size`` bytes of ``fmt``."""
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return (
            ProblemCode.IMAGE_TOO_LARGE,
            "not decoded: the declared image size is over the pixel limit",
        )
    if isinstance(exc, UnidentifiedImageError):
        return ProblemCode.UNIDENTIFIED_IMAGE, UNIDENTIFIED
    if isinstance(exc, MemoryError):
        return (
            ProblemCode.IMAGE_TOO_LARGE,
            "not decoded: the image needs more memory than is available",
        )
    what = "image" if fmt in ("", "image", "unknown") else f"{fmt} image"
    if is_truncation(exc):
        return (
            ProblemCode.IMAGE_TRUNCATED,
            f"{what} data truncated: the file ends after {size} bytes",
        )
    if isinstance(exc, RecursionError):
        return ProblemCode.CORRUPT_IMAGE, f"{what} structure malformed: nested too deeply to read"
    return ProblemCode.CORRUPT_IMAGE, f"{what} data damaged: the pixels could not be decoded"


def is_data_error(exc: BaseException) -> bool:
    """Whether a decoder refused the bytes (the file's fault) rather than the program failing."""
    return isinstance(
        exc,
        OSError
        | SyntaxError
        | EOFError
        | ValueError
        | MemoryError
        | RecursionError
        | Image.DecompressionBombError,
    )
