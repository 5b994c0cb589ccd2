"""The contract a case-wide stage implements, what it is given to run and what it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from veriscan.pipeline.executors import Executor
from veriscan.plugins import Registry
from veriscan.settings import Settings
from veriscan.store.case import Case


class StageError(Exception):
    """A stage cannot run with what it was given (a list named that does not exist): a setup
    error the command reports in one line, not a crash."""


def _no_stop() -> None:
    return None


def _no_progress(stage_id: str, pending: int) -> None:
    return None


@dataclass(frozen=True)
class StageContext:
    """What a stage runs with. ``check`` raises KeyboardInterrupt once Ctrl-C was pressed: a stage
    that runs long calls it between commits, so what it committed stays and the next run finishes
    the rest. ``analyzers`` are the analyzers (id to version) the run uses."""

    settings: Settings
    executor: Executor
    registry: Registry
    command: str
    run_id: int
    analyzers: Mapping[str, str] = field(default_factory=dict)
    check: Callable[[], None] = _no_stop
    progress: Callable[[str, int], None] = _no_progress
    """Called by the runner before each stage with its id and how much it has pending."""


@dataclass(frozen=True)
class StageResult:
    """What one stage did: ``counts`` for reports, ``run_counts`` added to the run record,
    ``problems`` recorded on contents (they make the command exit 1), ``lines`` for the
    command's report, in the order they are printed."""

    stage: str
    counts: Mapping[str, int] = field(default_factory=dict)
    problems: int = 0
    lines: tuple[str, ...] = ()
    run_counts: Mapping[str, int] = field(default_factory=dict)
    skipped: bool = False
    """Nothing was pending: the stage did not run."""


class Stage(ABC):
    """A case-wide step. ``after`` names the stages whose output this one reads (or that must
    settle first); the runner orders stages by it, never by numbers. Both methods read the store
    only: evidence is never opened again."""

    id: ClassVar[str]
    after: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    @classmethod
    def check(cls, settings: Settings) -> None:
        """Raise StageError for settings this stage cannot run with; called before a command
        writes anything, so a setup error ends it at start, not after an ingest."""
        return None

    @abstractmethod
    def pending(self, case: Case, context: StageContext) -> int:
        """How many items the stage would work on now (cheap); 0: nothing to do, it is skipped."""

    @abstractmethod
    def run(self, case: Case, context: StageContext) -> StageResult:
        """Do the work and commit it; running again converges on the same state."""
