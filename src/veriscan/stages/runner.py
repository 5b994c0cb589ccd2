"""Ordering stages by their declared dependencies and running them over a case."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from veriscan.plugins import PluginError, Registry
from veriscan.settings import Settings
from veriscan.stages.base import Stage, StageContext, StageResult
from veriscan.store.case import Case


def stage_classes(registry: Registry) -> list[type[Stage]]:
    """The registered stages, checked to implement the contract."""
    found: list[type[Stage]] = []
    for cls in registry.classes("stages"):
        if not (isinstance(cls, type) and issubclass(cls, Stage)):
            raise PluginError(f"stage {getattr(cls, 'id', cls)!r} is not a veriscan Stage")
        found.append(cls)
    return found


def ordered(stages: Sequence[type[Stage]]) -> list[type[Stage]]:
    """A topological order of ``stages`` by ``after``; ties keep the given (registry) order.

    Raises PluginError for an ``after`` naming no registered stage or for a cycle."""
    by_id = {s.id: s for s in stages}
    for s in stages:
        unknown = [a for a in s.after if a not in by_id]
        if unknown:
            raise PluginError(f"stage {s.id!r} runs after unknown stage(s): {', '.join(unknown)}")
    done: list[type[Stage]] = []
    placed: set[str] = set()
    left = list(stages)
    while left:
        ready = next((s for s in left if set(s.after) <= placed), None)
        if ready is None:
            ids = ", ".join(s.id for s in left)
            raise PluginError(f"stages depend on each other in a cycle: {ids}")
        done.append(ready)
        placed.add(ready.id)
        left.remove(ready)
    return done


def select_stages(registry: Registry, only: Sequence[str] = ()) -> list[type[Stage]]:
    """Every registered stage in order, or only those named (still in declared order)."""
    stages = ordered(stage_classes(registry))
    if not only:
        return stages
    wanted, known = set(only), {s.id for s in stages}
    unknown = sorted(wanted - known)
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise PluginError(f"no stage {', '.join(unknown)} (known: {names})")
    return [s for s in stages if s.id in wanted]


def check_stages(stages: Sequence[type[Stage]], settings: Settings) -> None:
    """Each stage's own check of its settings (raises StageError)."""
    for cls in stages:
        cls.check(settings)


def run_stages(
    case: Case, stages: Sequence[type[Stage]], context: StageContext
) -> Iterator[StageResult]:
    """Run each stage with something pending, in the given order, yielding each one's result
    as it ends. Ctrl-C (``context.check``) is honoured between stages: a stage that has started
    finishes or stops at its own commit boundary, and the rest wait for the next run."""
    for cls in stages:
        context.check()
        stage = cls()
        pending = stage.pending(case, context)
        context.progress(cls.id, pending)
        if pending <= 0:
            yield StageResult(cls.id, skipped=True)
            continue
        yield stage.run(case, context)
