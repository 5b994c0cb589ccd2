"""Work units as Ray tasks: the same picklable units and worker function as the local pool.

Ray schedules, places and retries; veriscan keeps its own guarantees on top. A unit's results
reach the store only when the coordinator commits them, so a worker lost mid-unit loses nothing:
Ray re-runs the task elsewhere (``max_retries``) and the unit is committed once. A coordinator lost
mid-run is the resume case the local pool already has: the same command skips committed units.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar

from veriscan.pipeline.executors.base import POLL_S, Batch, Executor, ExecutorError, windowed

U = TypeVar("U")
R = TypeVar("R")

RETRIES: Final = 5
CONNECT_S: Final = 5.0
GPU_BATCH: Final = 8
_NEEDS_RAY: Final = "the Ray executor needs the [cluster] extra: pip install 'veriscan[cluster]'"


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable head for minutes; an examiner's typo should fail at once."""
    hostport = address.removeprefix("ray://").rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_S):
            return
    except (OSError, ValueError) as exc:
        raise ExecutorError(f"cannot reach a Ray cluster at {address!r}: {exc}") from exc


def inference_resources(
    cluster: Mapping[str, float], batch_size: int
) -> tuple[dict[str, Any], int]:
    """Actor resources and batch size for the cluster: every GPU holds one model session and takes
    GPU_BATCH times larger batches (a GPU idles on a CPU-sized batch); without GPUs, one actor
    per CPU, as the CPU units are finished by the time the stage runs."""
    gpus = int(cluster.get("GPU", 0))
    if gpus >= 1:
        return {"num_gpus": 1, "actors": gpus}, batch_size * GPU_BATCH
    return {"num_cpus": 1, "actors": max(1, int(cluster.get("CPU", 1)))}, batch_size


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

    def map_unordered(
        self,
        fn: Callable[[U], R],
        units: Iterable[U],
        window: int,
        stop: Callable[[], None] = lambda: None,
    ) -> Iterator[R]:
        ray = self._ray
        cpus = int(ray.cluster_resources().get("CPU", 1))
        window = max(window, 2 * cpus)  # keep every CPU of the cluster busy, not this machine's

        def first_done(pending: list[Any]) -> tuple[list[Any], list[Any]]:
            done, rest = ray.wait(pending, num_returns=1, timeout=POLL_S)
            return list(done), list(rest)

        return windowed(
            units, window, lambda unit: self._task.remote(fn, unit), first_done, ray.get, stop
        )

    def gpus(self) -> int:
        return int(self._ray.cluster_resources().get("GPU", 0))

    def map_batches(
        self,
        fn_cls: Callable[..., Callable[[Batch], Batch]],
        kwargs: dict[str, Any],
        rows: Sequence[Mapping[str, str]],
        batch_size: int,
    ) -> Iterator[dict[str, Any]]:
        """Ray Data batch inference: a pool of actors, each holding one ``fn_cls`` (one model
        session), one per GPU when the cluster has GPUs, else one per CPU. Ray Data restarts a lost
        actor and re-runs its batches; results stream back as they are ready."""
        import ray.data

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.enable_operator_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        args, batch_size = inference_resources(self._ray.cluster_resources(), batch_size)
        pool = ray.data.ActorPoolStrategy(size=args.pop("actors"))
        blocks = max(1, min(len(rows) // batch_size + 1, 64))
        dataset = ray.data.from_items(list(rows), override_num_blocks=blocks)
        scored = dataset.map_batches(
            fn_cls,
            fn_constructor_kwargs=kwargs,
            batch_size=batch_size,
            batch_format="numpy",
            compute=pool,
            **args,
        )
        try:
            yield from scored.iter_rows()
        except self._ray.exceptions.RayError as exc:
            raise ExecutorError(
                f"the batch stage failed on the cluster ({type(exc).__name__}); what it stored is "
                "kept: run the same command again to finish it"
            ) from exc

    def close(self) -> None:
        if self._started_here:
            self._ray.shutdown()
