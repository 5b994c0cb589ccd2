"""How work units are run: in this process (tests, debugging) or on a local process pool.

The interface is the seam for a Ray executor: it takes any picklable function and units, keeps a
bounded number in flight (bounded memory), and yields results as they complete.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

import numpy as np

U = TypeVar("U")
R = TypeVar("R")
T = TypeVar("T")
Batch = dict[str, np.ndarray]
POLL_S = 0.1


class Executor(ABC):
    id: str

    @abstractmethod
    def map_unordered(
        self,
        fn: Callable[[U], R],
        units: Iterable[U],
        window: int,
        stop: Callable[[], None] = lambda: None,
    ) -> Iterator[R]:
        """``stop`` runs between units and every POLL_S while waiting: an exception it raises
        (Ctrl-C) ends the map without waiting for the units in flight."""

    @abstractmethod
    def close(self) -> None:
        """Release workers once their work is done."""

    def abort(self) -> None:
        """Release workers now, dropping the units in flight (interruption, error): nothing a
        worker holds is committed, so a re-run does those units again."""
        self.close()

    def gpus(self) -> int:
        """GPUs the workers can use: the detector batch stage pays for its extra pass only there."""
        return 0

    def map_batches(
        self,
        fn_cls: Callable[..., Callable[[Batch], Batch]],
        kwargs: dict[str, Any],
        rows: Sequence[Mapping[str, str]],
        batch_size: int,
    ) -> Iterator[dict[str, Any]]:
        """Batch inference over small rows, one output row per input row: here, one instance of
        ``fn_cls`` in this process; the Ray executor runs Ray Data actors (GPUs when present)."""
        fn = fn_cls(**kwargs)
        for start in range(0, len(rows), batch_size):
            yield from batch_rows(fn(rows_batch(rows[start : start + batch_size])))


def rows_batch(rows: Sequence[Mapping[str, str]]) -> Batch:
    return {key: np.array([row[key] for row in rows], dtype=object) for key in rows[0]}


def batch_rows(batch: Batch) -> Iterator[dict[str, Any]]:
    keys = list(batch)
    for i in range(len(batch[keys[0]]) if keys else 0):
        yield {key: batch[key][i] for key in keys}


def windowed(
    units: Iterable[U],
    window: int,
    submit: Callable[[U], T],
    first_done: Callable[[list[T]], tuple[list[T], list[T]]],
    result: Callable[[T], R],
    stop: Callable[[], None] = lambda: None,
) -> Iterator[R]:
    """At most ``window`` units in flight, results as they complete: memory stays bounded however
    many units a source yields. Shared by every executor that hands units to other processes.
    ``first_done`` waits at most POLL_S, so ``stop`` is consulted while long units run."""
    pending: list[T] = []
    source = iter(units)
    exhausted = False
    while True:
        while not exhausted and len(pending) < window:
            stop()
            try:
                unit = next(source)
            except StopIteration:
                exhausted = True
                break
            pending.append(submit(unit))
        if not pending:
            return
        stop()
        done, pending = first_done(pending)
        for handle in done:
            yield result(handle)


class InlineExecutor(Executor):
    id = "inline"

    def map_unordered(
        self,
        fn: Callable[[U], R],
        units: Iterable[U],
        window: int,
        stop: Callable[[], None] = lambda: None,
    ) -> Iterator[R]:
        for unit in units:
            stop()
            yield fn(unit)

    def close(self) -> None:
        """Nothing to release: work ran in this process."""


def _exit_with(coordinator: int) -> None:
    """Workers end themselves when the coordinating process is gone (kill -9 leaves no orphans)."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(coordinator, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass


def _worker_init(coordinator: int) -> None:
    """Ctrl-C is the coordinator's to handle: it stops handing out units and shuts the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(coordinator,), daemon=True).start()


class LocalPoolExecutor(Executor):
    id = "local"

    def __init__(self, workers: int) -> None:
        ctx = multiprocessing.get_context("forkserver")
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )

    def map_unordered(
        self,
        fn: Callable[[U], R],
        units: Iterable[U],
        window: int,
        stop: Callable[[], None] = lambda: None,
    ) -> Iterator[R]:
        def first_done(pending: list[Future[R]]) -> tuple[list[Future[R]], list[Future[R]]]:
            done, rest = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            return list(done), list(rest)

        def submit(unit: U) -> Future[R]:
            # Workers (and the forkserver) are forked here: with SIGINT blocked they inherit the
            # mask, so a terminal's Ctrl-C, sent to the whole process group, never reaches them
            # half-started (that broke the pool); the coordinator gets it once unblocked.
            old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                return self._pool.submit(fn, unit)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)

        return windowed(units, window, submit, first_done, Future.result, stop)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        """Workers are killed rather than awaited: a unit can take many seconds.

        A worker killed while sending its result leaves a partial message that the pool's reader
        thread would wait on for ever; with every worker gone, closing this process's end of the
        result pipe turns that wait into end-of-file, and the pool winds down as for a crash."""
        workers = list((getattr(self._pool, "_processes", None) or {}).values())
        for proc in workers:
            if proc.is_alive():
                proc.kill()
        for proc in workers:
            proc.join(5.0)
        results = getattr(self._pool, "_result_queue", None)
        writer = getattr(results, "_writer", None)
        if writer is not None and not any(proc.is_alive() for proc in workers):
            writer.close()
        self._pool.shutdown(wait=True, cancel_futures=True)


def make_executor(name: str, workers: int, address: str = "") -> Executor:
    """``address`` only concerns Ray: empty starts Ray inside this process, ``auto`` joins the
    cluster started on this machine, ``ray://host:10001`` a remote one."""
    if name == "inline":
        return InlineExecutor()
    if name in ("local", "auto"):
        return LocalPoolExecutor(workers)
    if name == "ray":
        from veriscan.pipeline.ray_executor import RayExecutor

        return RayExecutor(address, workers)
    raise ValueError(f"unknown executor {name!r} (known: auto, local, inline, ray)")
