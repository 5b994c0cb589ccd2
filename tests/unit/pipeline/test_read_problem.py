"""Read failures on a stream are stored in fixed wording with a code (issue 15)."""

from __future__ import annotations

import errno

from veriscan.pipeline.process import _read_problem
from veriscan.sources.archive import ArchiveError


def test_read_failures_use_fixed_wording() -> None:
    os_error = _read_problem(OSError(errno.EIO, "Input/output error"))
    assert (os_error.code, os_error.message) == ("read-error", "read failed: Input/output error")
    bare = _read_problem(OSError("Invalid data stream"))
    assert (bare.code, bare.message) == ("read-error", "read failed: the data cannot be read")
    cut = _read_problem(EOFError("Compressed file ended before the end-of-stream marker"))
    assert cut.message == "read failed: the data ends early (truncated)"


def test_archive_read_failures_keep_their_code() -> None:
    wording = "zip member 'a': member data fails its CRC-32 check"
    problem = _read_problem(ArchiveError(wording, "archive-crc"))
    assert (problem.code, problem.message) == ("archive-crc", f"member unreadable: {wording}")
