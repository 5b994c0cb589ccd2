"""Pickles that would run a command if anyone loaded them, built with pickle.dumps and never
loaded: ``__reduce__`` only names the callable, so making them runs nothing.

The command is ``touch <marker>``: a test that finds the marker afterwards has proved that
something unpickled the file.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

PROTOCOLS = range(6)
EXTENSIONS = (".ckpt", ".pt", ".pth", ".pkl")


class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


class _Eval:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return eval, (f"__import__('os').system({self.command!r})",)


def system_pickle(marker: Path, protocol: int) -> bytes:
    return pickle.dumps({"state_dict": _System(f"touch {marker}")}, protocol=protocol)


def eval_pickle(marker: Path, protocol: int) -> bytes:
    return pickle.dumps(_Eval(f"touch {marker}"), protocol=protocol)


def late_pickle_zip(data_pkl: bytes, before: int = 24, member_bytes: int = 1024) -> bytes:
    """A torch-style zip whose archive/data.pkl comes after ``before`` tensor members."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(before):
            zf.writestr(f"archive/data/{i}", bytes([i % 251]) * member_bytes)
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()
