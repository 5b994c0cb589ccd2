"""Work units in this process (tests, debugging) or on a local process pool.

Workers never see the terminal's Ctrl-C (they start with SIGINT blocked); the coordinator decides
when to stop and kills them rather than waiting, since nothing a worker holds is committed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TypeVar

from veriscan.pipeline.executors.base import POLL_S, Executor, windowed

U = TypeVar("U")
R = TypeVar("R")


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
