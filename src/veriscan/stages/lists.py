"""List matching as a stage: the case's stored hashes against the lists in the library.

Which lists: setting ``lists`` (comma-separated; `add`/`scan --list` set it), else every list in
the library (setting ``library``, `--library`, else the default one). With no list at all there is
nothing pending. Matching records its own run, as `veriscan match` does.
"""

from __future__ import annotations

from pathlib import Path

from veriscan.matching.engine import match_case
from veriscan.matching.library import Library, LibraryError, default_library
from veriscan.matching.stored import StoredList
from veriscan.settings import Settings
from veriscan.stages.base import Stage, StageContext, StageError, StageResult
from veriscan.store.case import Case


def library_of(settings: Settings) -> Library:
    return Library(Path(settings.library) if settings.library else default_library())


def chosen_lists(settings: Settings) -> list[str]:
    """The lists named in settings, or every list in the library."""
    named = [n.strip() for n in settings.lists.split(",") if n.strip()]
    return named or library_of(settings).names()


def _opened(settings: Settings) -> list[StoredList]:
    library = library_of(settings)
    lists: list[StoredList] = []
    try:
        for name in chosen_lists(settings):
            lists.append(StoredList.open(library, name))
    except LibraryError as exc:
        for opened in lists:
            opened.close()
        raise StageError(str(exc)) from exc
    return lists


class ListsStage(Stage):
    id = "lists"
    description = "matches of the case's hashes against the hash lists in the library"

    @classmethod
    def check(cls, settings: Settings) -> None:
        """Every list named must open (a missing or damaged list is a setup error)."""
        for opened in _opened(settings):
            opened.close()

    def pending(self, case: Case, context: StageContext) -> int:
        return len(chosen_lists(context.settings))

    def run(self, case: Case, context: StageContext) -> StageResult:
        lists = _opened(context.settings)
        try:
            summary = match_case(case, lists, context.command, context.registry)
        finally:
            for opened in lists:
                opened.close()
        lines: list[str] = []
        for lst in lists:
            kinds = summary.lists.get(lst.name, {})
            detail = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"
            tag = " (known-good)" if lst.meta.known_good else ""
            lines.append(f"{lst.name}{tag}: {detail}")
        if summary.low_quality:
            lines.append(
                f"{summary.low_quality} images below the PDQ quality floor were not compared"
            )
        counts = {"lists": len(lists), "matches": summary.total, "low_quality": summary.low_quality}
        return StageResult(self.id, counts=counts, lines=tuple(lines))
