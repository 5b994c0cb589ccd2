"""The executor contract: run picklable work units somewhere, keep a bounded number in flight
(bounded memory) and yield results as they complete; and batch inference over small rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


class ExecutorError(RuntimeError):
    """The executor cannot start (no Ray, no cluster at the address)."""
