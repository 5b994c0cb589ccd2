"""Work units as Ray tasks: the same picklable units and worker function as the local pool.

Ray schedules, places and retries; veriscan keeps its own guarantees on top. A unit's results
reach the store only when the coordinator commits them, so a worker lost mid-unit loses nothing:
Ray re-runs the task elsewhere (``max_retries``) and the unit is committed once. A coordinator lost
mid-run is the resume case the local pool already has: the same command skips committed units.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, TypeVar

from veriscan.pipeline.executors import Executor, windowed

U = TypeVar("U")
R = TypeVar("R")

RETRIES: Final = 5
CONNECT_S: Final = 5.0
_NEEDS_RAY: Final = "the Ray executor needs the [cluster] extra: pip install 'veriscan[cluster]'"


class ExecutorError(RuntimeError):
    """The executor cannot start (no Ray, no cluster at the address)."""


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable head for minutes; an examiner's typo should fail at once."""
    hostport = address.removeprefix("ray://").rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_S):
            return
    except (OSError, ValueError) as exc:
        raise ExecutorError(f"cannot reach a Ray cluster at {address!r}: {exc}") from exc


def _run(fn: Callable[[Any], Any], unit: Any) -> Any:
    return fn(unit)


class RayExecutor(Executor):
    id = "ray"

    def __init__(self, address: str | None = None, workers: int = 0) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ExecutorError(_NEEDS_RAY) from exc
        self._ray: Any = ray
        self._started_here = False
        local = address in (None, "", "local")
        if not local and address != "auto":
            _check_reachable(str(address))
        if not ray.is_initialized():
            try:
                ray.init(
                    address=None if local else address,
                    num_cpus=(workers or None) if local else None,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ExecutorError(f"cannot reach a Ray cluster at {address!r}: {exc}") from exc
            self._started_here = True
        self._task = ray.remote(max_retries=RETRIES, retry_exceptions=False, num_cpus=1)(_run)

    def map_unordered(self, fn: Callable[[U], R], units: Iterable[U], window: int) -> Iterator[R]:
        ray = self._ray
        cpus = int(ray.cluster_resources().get("CPU", 1))
        window = max(window, 2 * cpus)  # keep every CPU of the cluster busy, not this machine's

        def first_done(pending: list[Any]) -> tuple[list[Any], list[Any]]:
            done, rest = ray.wait(pending, num_returns=1)
            return list(done), list(rest)

        return windowed(
            units, window, lambda unit: self._task.remote(fn, unit), first_done, ray.get
        )

    def close(self) -> None:
        if self._started_here:
            self._ray.shutdown()
