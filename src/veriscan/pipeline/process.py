"""What a worker does with one work unit: read each file once, feed every analyzer, expand archives.

Runs in a worker process. Every failure below the unit becomes a Problem on the file or archive it
concerns; the unit itself always returns.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

from veriscan.analyzers.base import Analyzer, FileContext, StreamingAnalyzer, run_order
from veriscan.analyzers.failures import INTERNAL, attach_run_log, log_exception
from veriscan.analyzers.filetype import HEAD_BYTES, extension_mismatch, sniff_mime
from veriscan.analyzers.models.formats import sniff_model
from veriscan.domain import (
    ContentRecord,
    Digest,
    Finding,
    ItemKind,
    LocationRecord,
    Problem,
    ProblemCode,
    UnitResult,
)
from veriscan.pipeline.fold import fold_findings
from veriscan.pipeline.plan import WorkUnit
from veriscan.sources.archive import (
    ArchiveError,
    DamagedArchiveError,
    ExpansionBudget,
    LimitExceeded,
    Member,
    is_archive,
    iter_members,
)
from veriscan.store.known import KnownContents

_SEEKABLE_ARCHIVES = {"application/zip", "application/x-7z-compressed"}


class _ReadFailedError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class UnitProcessor:
    def __init__(self, unit: WorkUnit) -> None:
        self.unit = unit
        self.settings = unit.settings
        instances = [cls(unit.settings) for cls in unit.analyzer_classes]
        self.streaming = [a for a in instances if isinstance(a, StreamingAnalyzer)]
        whole = [a for a in instances if isinstance(a, Analyzer)]
        self.whole = run_order(whole)
        self.result = UnitResult(unit.unit_id)
        self._emitted: set[str] = set()
        self._top_depth = 0

    def run(self) -> UnitResult:
        # Once per unit, before reading: archive and analyzer failures both go to the run log.
        attach_run_log(Path(self.unit.tmp_dir).parent, self.unit.unit_id.split("-", 1)[0])
        self._known = KnownContents(self.unit.db_url)
        try:
            self._run()
        finally:
            self._known.close()
        return self.result

    def _run(self) -> None:
        source = self.unit.source_cls(Path(self.unit.source.path), self.settings)
        for item in self.unit.items:
            record = LocationRecord(
                item.locator,
                item.size,
                item.mtime,
                item.kind,
                link_target=item.link_target,
                deleted=item.deleted,
                carved=item.carved,
                fs_times=dict(item.fs_times) or None,
            )
            record.problems.extend(item.problems)
            self.result.files += 1
            self.result.file_bytes += item.size or 0
            if item.kind is not ItemKind.FILE:
                self.result.locations.append(record)
                continue
            self._top_depth = item.locator.depth
            try:
                stream = source.open_item(item)
            except OSError as exc:
                record.problems.append(
                    Problem("source", f"cannot open: {exc.strerror or exc}", ProblemCode.UNREADABLE)
                )
                self.result.locations.append(record)
                continue
            with stream:
                self._process(stream, record, budget=None)

    def _process(
        self, stream: BinaryIO, record: LocationRecord, budget: ExpansionBudget | None
    ) -> None:
        """Hash and analyse one file, then expand it if it is an archive."""
        self.result.locations.append(record)
        try:
            head = stream.read(HEAD_BYTES)
        except LimitExceeded:
            raise
        except (OSError, ArchiveError, EOFError) as exc:
            record.problems.append(_read_problem(exc))
            return
        mime = sniff_mime(head)
        record.extension_mismatch = extension_mismatch(record.locator.name, mime)
        wanted = [a for a in self.whole if a.wants(mime)]
        # A PyTorch checkpoint is a zip, but its members are tensor blobs, not evidence files.
        container = is_archive(mime) and sniff_model(head) != "pytorch-zip"
        with self._spool_if(container and record.locator.depth > self._top_depth) as spool:
            try:
                findings, data = self._read_all(stream, head, record, wanted, spool)
            except _ReadFailedError as failed:
                record.problems.append(failed.problem)
                return
            sha256 = _digest(findings, "sha256")
            record.sha256 = sha256
            if sha256 not in self._emitted and sha256 not in self._known:
                self._emitted.add(sha256)
                self.result.contents.append(self._content(findings, wanted, data, mime, record))
            if container:
                if spool is not None:
                    spool.seek(0)
                    self._expand(spool, mime, record, budget)
                else:
                    self._expand_top(stream, mime, record)

    def _read_all(
        self,
        stream: BinaryIO,
        head: bytes,
        record: LocationRecord,
        wanted: list[Analyzer],
        spool: IO[bytes] | None,
    ) -> tuple[list[Finding], bytes | None]:
        states = [(a, a.begin(record.locator.name)) for a in self.streaming]
        buffer: bytearray | None = bytearray() if wanted else None
        chunk = head
        total = 0
        while chunk:
            total += len(chunk)
            self.result.bytes_read += len(chunk)
            for _, state in states:
                state.update(chunk)
            if buffer is not None:
                if total > self.settings.max_buffer_bytes:
                    record.problems.append(
                        Problem(
                            "pipeline",
                            f"larger than max_buffer_bytes ({self.settings.max_buffer_bytes}): "
                            "hashed but not decoded",
                            ProblemCode.TOO_LARGE,
                        )
                    )
                    buffer = None
                else:
                    buffer += chunk
            if spool is not None:
                spool.write(chunk)
            try:
                chunk = stream.read(self.settings.chunk_bytes)
            except LimitExceeded:
                raise
            except (OSError, ArchiveError, EOFError) as exc:
                raise _ReadFailedError(_read_problem(exc)) from exc
        findings = [Finding(a.id, a.version, state.finish()) for a, state in states]
        return findings, None if buffer is None else bytes(buffer)

    def _content(
        self,
        findings: list[Finding],
        wanted: list[Analyzer],
        data: bytes | None,
        mime: str,
        record: LocationRecord,
    ) -> ContentRecord:
        if data is not None:
            ctx = FileContext(record.locator.name, data, mime, self.settings)
            for analyzer in wanted:
                try:
                    facts = analyzer.analyze(ctx)
                except Exception as exc:  # a plugin bug must not lose the rest of the unit
                    log_exception(analyzer.id, str(record.locator), exc)
                    wording = f"the {analyzer.id} analyzer failed on this file ({INTERNAL})"
                    facts = [Problem(analyzer.id, wording, ProblemCode.ANALYZER_CRASH)]
                findings.append(Finding(analyzer.id, analyzer.version, facts))
        return fold_findings(findings)

    @contextmanager
    def _spool_if(self, needed: bool) -> Iterator[IO[bytes] | None]:
        if not needed:
            yield None
            return
        with tempfile.SpooledTemporaryFile(
            max_size=self.settings.spool_memory_bytes, dir=self.unit.tmp_dir
        ) as spool:
            yield spool

    def _expand_top(self, stream: BinaryIO, mime: str, record: LocationRecord) -> None:
        budget = ExpansionBudget.from_settings(self.settings)
        if stream.seekable():
            stream.seek(0)
            self._expand(stream, mime, record, budget)
            return
        with self._spool_if(True) as spool:
            assert spool is not None
            while chunk := stream.read(self.settings.chunk_bytes):
                spool.write(chunk)
            spool.seek(0)
            self._expand(spool, mime, record, budget)

    def _expand(
        self, stream: IO[bytes], mime: str, record: LocationRecord, budget: ExpansionBudget | None
    ) -> None:
        if record.locator.depth - self._top_depth >= self.settings.archive_max_depth:
            record.problems.append(
                Problem(
                    "archive",
                    f"nested deeper than archive_max_depth ({self.settings.archive_max_depth}): "
                    "hashed, not expanded",
                    ProblemCode.BOMB_DEPTH,
                )
            )
            return
        budget = budget or ExpansionBudget.from_settings(self.settings)
        try:
            for member in iter_members(stream, mime, budget):  # type: ignore[arg-type]
                child = LocationRecord(
                    record.locator.child(member.path),
                    member.size,
                    member.mtime,
                    ItemKind.FILE,
                )
                child.problems.extend(member.problems)
                if member.encrypted or any(p.code == "special-file" for p in member.problems):
                    child.kind = ItemKind.SPECIAL
                    self.result.locations.append(child)
                    continue
                if not member.readable:
                    self.result.locations.append(child)
                    continue
                self._expand_member(member, child, budget)
        except LimitExceeded as exc:
            record.problems.append(Problem("archive", f"expansion stopped: {exc}", exc.code))
        except DamagedArchiveError as exc:
            record.problems.extend(exc.problems)
        except ArchiveError as exc:
            record.problems.append(Problem("archive", f"cannot expand: {exc}", exc.code))

    def _expand_member(
        self, member: Member, child: LocationRecord, budget: ExpansionBudget
    ) -> None:
        """The child is stored whatever happens: a member that fails to open is still a location."""
        try:
            stream = member.open()
        except LimitExceeded as exc:
            child.problems.append(Problem("archive", str(exc), exc.code))
            self.result.locations.append(child)
            raise
        except ArchiveError as exc:
            child.problems.append(Problem("archive", f"member unreadable: {exc}", exc.code))
            self.result.locations.append(child)
            return
        try:
            with stream:
                self._process(stream, child, budget)
        except LimitExceeded as exc:
            child.problems.append(Problem("archive", str(exc), exc.code))
            if exc.code != ProblemCode.BOMB_RATIO:
                raise
        except ArchiveError as exc:
            child.problems.append(Problem("archive", str(exc), exc.code))


def _read_problem(exc: BaseException) -> Problem:
    if isinstance(exc, ArchiveError):
        return Problem("archive", f"member unreadable: {exc}", exc.code)
    log_exception("read", "stream", exc)
    if isinstance(exc, OSError) and exc.strerror:
        return Problem("source", f"read failed: {exc.strerror}", ProblemCode.READ_ERROR)
    if isinstance(exc, EOFError):
        return Problem(
            "source", "read failed: the data ends early (truncated)", ProblemCode.READ_ERROR
        )
    return Problem("source", "read failed: the data cannot be read", ProblemCode.READ_ERROR)


def _digest(findings: list[Finding], algorithm: str) -> str:
    for finding in findings:
        for fact in finding.facts:
            if isinstance(fact, Digest) and fact.algorithm == algorithm:
                return fact.value
    raise RuntimeError(f"no {algorithm} digest: the 'hashes' analyzer must be enabled")


def process_unit(unit: WorkUnit) -> UnitResult:
    """Entry point for executors (module-level so it pickles by reference)."""
    return UnitProcessor(unit).run()
