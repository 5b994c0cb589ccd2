"""Bare pickle files (``torch.save`` without zip, sklearn/joblib dumps, any ``.pkl``).

They have no magic number: protocol 2+ starts with PROTO (``\\x80`` and the protocol), protocols
0 and 1 start with any opcode. So a file is a candidate when it starts with PROTO, or when its
name has a pickle or checkpoint extension and its first bytes decode as pickle opcodes; it is
reported only if the walk then finds a complete pickle or at least one import, so a ``.bin`` or
``.dat`` that is something else entirely gets no model facts at all.
"""

from __future__ import annotations

import io
import pickletools
from pathlib import PurePosixPath

from veriscan.analyzers.models.pickles import PickleScan, scan_pickle

PICKLE_EXTENSIONS = frozenset(
    {".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".bin", ".joblib", ".dat", ".data"}
)
MAX_PICKLES = 16


def pickle_candidate(head: bytes, name: str) -> bool:
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return True
    if PurePosixPath(name.lower()).suffix not in PICKLE_EXTENSIONS:
        return False
    return _opcodes_to_the_end(head)


def _opcodes_to_the_end(window: bytes) -> bool:
    """Decodes as opcodes until STOP, or until the window's end cuts an opcode off."""
    ops, last = 0, 0
    try:
        for op, _, pos in pickletools.genops(io.BytesIO(window)):
            ops, last = ops + 1, pos or 0
            if op.name == "STOP":
                return ops >= 2
    # genops decodes untrusted bytes; any failure only means "not a pickle here".
    except Exception:
        return ops >= 2 and last >= len(window) - 512
    return ops >= 2


def scan_pickles(head: bytes) -> list[PickleScan]:
    """Every pickle stored back to back (as torch.save's legacy format and joblib do)."""
    scans: list[PickleScan] = []
    pos = 0
    while pos < len(head) and len(scans) < MAX_PICKLES:
        scans.append(scan_pickle(head, pos))
        if not scans[-1].complete or scans[-1].end <= pos:
            break
        pos = scans[-1].end
    return scans


def is_pickle(scans: list[PickleScan]) -> bool:
    return bool(scans) and (scans[0].complete or any(s.globals for s in scans))
