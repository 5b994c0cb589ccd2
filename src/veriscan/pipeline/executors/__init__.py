"""How work units are run: in this process, on a local process pool, or as Ray tasks.

One contract (:mod:`.base`), one module per kind of executor; the Ray module is imported only
when asked for, since Ray is an optional extra.
"""

from __future__ import annotations

from veriscan.pipeline.executors.base import (
    POLL_S,
    Batch,
    Executor,
    ExecutorError,
    batch_rows,
    rows_batch,
    windowed,
)
from veriscan.pipeline.executors.local import InlineExecutor, LocalPoolExecutor

__all__ = [
    "POLL_S",
    "Batch",
    "Executor",
    "ExecutorError",
    "InlineExecutor",
    "LocalPoolExecutor",
    "batch_rows",
    "make_executor",
    "rows_batch",
    "windowed",
]


def make_executor(name: str, workers: int, address: str = "") -> Executor:
    """``address`` only concerns Ray: empty starts Ray inside this process, ``auto`` joins the
    cluster started on this machine, ``ray://host:10001`` a remote one."""
    if name == "inline":
        return InlineExecutor()
    if name in ("local", "auto"):
        return LocalPoolExecutor(workers)
    if name == "ray":
        from veriscan.pipeline.executors.ray import RayExecutor

        return RayExecutor(address, workers)
    raise ValueError(f"unknown executor {name!r} (known: auto, local, inline, ray)")
