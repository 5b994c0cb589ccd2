"""Fixed forensic wordings for archive failures, so no library's exception text is stored.

zipfile, tarfile, gzip, zlib, lzma and py7zr explain failures in their own words ("Bad CRC-32 for
file 'm0.png'", "Error -3 while decompressing data: invalid distance too far back"), which change
between versions and read like a program failing. A stored problem says what is wrong with the
archive instead; the exception itself goes to the case's run log for developers.
"""

from __future__ import annotations

import logging
import lzma
import os
import struct
import sys
import tarfile
import zipfile
import zlib
from typing import Final

from veriscan.domain import ProblemCode

# A child of the analyzers' logger, whose handler writes the case's run log; sources must not
# import analyzers, so the logger is named rather than imported.
LOGGER: Final = logging.getLogger("veriscan.analyzers.archive")
LOGGER.addHandler(logging.NullHandler())  # no run log attached: nothing reaches the console

CRC: Final = (ProblemCode.ARCHIVE_CRC, "member data fails its CRC-32 check: content damaged")
TRUNCATED: Final = (ProblemCode.ARCHIVE_TRUNCATED, "archive data ends early (truncated)")
COMPRESSED_TRUNCATED: Final = (
    ProblemCode.ARCHIVE_TRUNCATED,
    "compressed stream ended before its end-of-stream marker: truncated",
)
CORRUPT_DATA: Final = (
    ProblemCode.ARCHIVE_CORRUPT_DATA,
    "compressed data damaged: cannot be decompressed",
)
STRUCTURE: Final = (ProblemCode.ARCHIVE_ERROR, "archive structure damaged: cannot be read")
NO_DIRECTORY: Final = (
    ProblemCode.ARCHIVE_ERROR,
    "no end-of-central-directory record found (the archive may be truncated): members not listed",
)
NOT_COMPRESSED: Final = (ProblemCode.ARCHIVE_ERROR, "not a valid compressed stream")
BAD_HEADER: Final = (ProblemCode.ARCHIVE_ERROR, "a member header is damaged")
UNSUPPORTED: Final = (
    ProblemCode.ARCHIVE_UNSUPPORTED,
    "uses a compression or filter veriscan cannot decode",
)
UNREADABLE: Final = (ProblemCode.ARCHIVE_ERROR, "data cannot be read")

LIBRARY_UNSUPPORTED: Final = (NotImplementedError,)
"""What zipfile raises for format features it does not implement (a version above 6.3, patched
data, strong encryption): a property of the file, worded as unsupported, never a crash."""
_TRUNCATED_HINTS: Final = ("truncated", "unexpected end", "ended before", "end of data")


def log_failure(what: str, exc: BaseException) -> None:
    """The exception and its traceback, for developers; never part of a stored message."""
    LOGGER.warning("%s failed (pid %d)", what, os.getpid(), exc_info=exc)


def archive_failure(exc: BaseException) -> tuple[ProblemCode, str]:
    """(code, wording) for an exception a library raised while reading an archive."""
    text = str(exc).lower()
    # py7zr is slow to import; an exception from it means it is already loaded.
    p7 = sys.modules.get("py7zr.exceptions")
    p7_crc = p7.CrcError if p7 else ()
    p7_data = p7.DecompressionError if p7 else ()
    p7_method = p7.UnsupportedCompressionMethodError if p7 else ()
    p7_bad = p7.Bad7zFile if p7 else ()
    if isinstance(exc, p7_crc) or "crc" in text:
        return CRC
    if isinstance(exc, EOFError) or any(hint in text for hint in _TRUNCATED_HINTS):
        return COMPRESSED_TRUNCATED if isinstance(exc, EOFError) else TRUNCATED
    if isinstance(exc, (zlib.error, lzma.LZMAError, p7_data)):
        return CORRUPT_DATA
    if isinstance(exc, (*LIBRARY_UNSUPPORTED, p7_method)):
        return UNSUPPORTED
    if isinstance(exc, tarfile.HeaderError):
        return BAD_HEADER
    if isinstance(exc, OSError) and exc.errno is None:
        # gzip and bz2 raise errno-less OSErrors for bad data ("Invalid data stream").
        return NOT_COMPRESSED if "not a gzip" in text or "invalid data" in text else CORRUPT_DATA
    if isinstance(exc, zipfile.BadZipFile) and "not a zip file" in text:
        return NO_DIRECTORY
    if isinstance(exc, (zipfile.BadZipFile, tarfile.TarError, struct.error, p7_bad)):
        return STRUCTURE
    if isinstance(exc, OSError) and exc.strerror:
        return ProblemCode.READ_ERROR, f"read failed: {exc.strerror}"
    return UNREADABLE
