"""Progress display: a Rich bar on a terminal, periodic plain log lines otherwise (CI, logs)."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

LOG_EVERY_S = 5.0


class ScanProgress:
    """The pipeline's Progress protocol; thread-safe because totals arrive from a thread."""

    def __init__(self, label: str, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.label = label
        self.files = self.bytes = self.problems = 0
        self.total_files: int | None = None
        self.started = time.monotonic()
        self._last_log = self.started
        self._lock = threading.Lock()
        self._rich: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ScanProgress:
        if self.console.is_terminal:
            self._rich = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TextColumn("[red]{task.fields[problems]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._rich.start()
            self._task = self._rich.add_task(self.label, total=None, rate="", problems="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif exc_type is None or not issubclass(exc_type, KeyboardInterrupt):
            self._log(final=True)  # after Ctrl-C, one line says where the run stopped

    def set_total(self, files: int, nbytes: int) -> None:
        with self._lock:
            self.total_files = files
            if self._rich is not None and self._task is not None:
                self._rich.update(self._task, total=files)

    def advance(self, files: int, nbytes: int, problems: int) -> None:
        with self._lock:
            self.files += files
            self.bytes += nbytes
            self.problems += problems
            if self._rich is not None and self._task is not None:
                self._rich.update(
                    self._task,
                    advance=files,
                    rate=self._rate(),
                    problems=f"{self.problems} problems" if self.problems else "",
                )
            elif time.monotonic() - self._last_log >= LOG_EVERY_S:
                self._log()

    def _rate(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return f"{self.files / elapsed:.1f} files/s {self.bytes / elapsed / 1e6:.1f} MB/s"

    def _log(self, final: bool = False) -> None:
        self._last_log = time.monotonic()
        total = f"/{self.total_files}" if self.total_files is not None else ""
        eta = ""
        if self.total_files and self.files and not final:
            elapsed = time.monotonic() - self.started
            eta = f", ETA {elapsed / self.files * (self.total_files - self.files):.0f}s"
        print(
            f"[{self.label}] {self.files}{total} files, {self._rate()}, "
            f"{self.problems} problems{eta}",
            file=sys.stderr,
            flush=True,
        )
