"""Reader for the NIST NSRL Reference Data Set, version 3 (an SQLite database).

The RDS is reference material that is often kept on write-protected or shared media and whose
integrity may have to be shown later, so it is opened strictly read-only and immutable: SQLite
then takes no locks and writes no journal, WAL or shared-memory file next to it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from veriscan.matching.lists.records import (
    EXACT_KINDS,
    BadLine,
    HashRecord,
    ListEvent,
    ListFormatError,
    normalise_hash,
)

_SQLITE_MAGIC = b"SQLite format 3\x00"
_BATCH = 10_000
_OPTIONAL = ("file_name", "file_size", "package_id")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _connect(path: Path) -> sqlite3.Connection:
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ListFormatError(f"{path}: cannot be read: {exc}") from exc
    if magic != _SQLITE_MAGIC:
        raise ListFormatError(f"{path}: not an SQLite database, so not an NSRL RDS v3 set")
    uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
    try:
        return sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise ListFormatError(f"{path}: SQLite cannot open it: {exc}") from exc


def _file_columns(connection: sqlite3.Connection, path: Path) -> tuple[str, dict[str, str]]:
    """The FILE table's real name and a map from lowercase column names to their real spelling."""
    try:
        found = connection.execute(
            "SELECT name FROM sqlite_master"
            " WHERE type IN ('table', 'view') AND lower(name) = 'file'"
        ).fetchone()
        if found is None:
            raise ListFormatError(f"{path}: no FILE table, so not an NSRL RDS v3 set")
        table = str(found[0])
        info = connection.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
    except sqlite3.Error as exc:
        raise ListFormatError(f"{path}: SQLite cannot read it: {exc}") from exc
    columns = {str(row[1]).lower(): str(row[1]) for row in info}
    if not any(kind in columns for kind in EXACT_KINDS):
        raise ListFormatError(
            f"{path}: FILE table has none of the md5, sha1, sha256 columns; "
            f"found {sorted(columns)!r}"
        )
    return table, columns


def read_nsrl_rds(path: Path) -> Iterator[ListEvent]:
    """Yield one record per row of an RDS v3 FILE table; ``line`` is the row's rowid.

    Rows are fetched in batches from one cursor so a full RDS (tens of millions of rows) streams
    in constant memory. The rowid is what lets a refused row be found again with an SQLite shell.
    """
    connection = _connect(path)
    try:
        table, columns = _file_columns(connection, path)
        kinds = [kind for kind in EXACT_KINDS if kind in columns]
        optional = [name for name in _OPTIONAL if name in columns]
        selected = ", ".join(_quote(columns[name]) for name in (*kinds, *optional))
        try:
            cursor = connection.execute(f"SELECT rowid, {selected} FROM {_quote(table)}")
            with_rowid = True
        except sqlite3.OperationalError:
            cursor = connection.execute(f"SELECT {selected} FROM {_quote(table)}")
            with_rowid = False
        counter = 0
        while True:
            try:
                rows = cursor.fetchmany(_BATCH)
            except sqlite3.DatabaseError as exc:
                raise ListFormatError(f"{path}: SQLite failed while reading rows: {exc}") from exc
            if not rows:
                break
            for row in rows:
                counter += 1
                if not with_rowid:
                    yield _row_event(counter, row, kinds, optional)
                else:
                    rowid = counter if row[0] is None else int(row[0])
                    yield _row_event(rowid, row[1:], kinds, optional)
    finally:
        connection.close()


def _row_event(
    rowid: int, values: Sequence[Any], kinds: list[str], optional: list[str]
) -> ListEvent:
    """A record from the row's valid hashes; an empty hash cell is only an absent hash.

    RDS rows sometimes leave a hash column empty, which is not an error; a cell that holds
    something other than a hash is, because it means the row cannot be trusted.
    """
    hashes: dict[str, str] = {}
    for kind, raw in zip(kinds, values, strict=False):
        text = _as_text(raw)
        if not text:
            continue
        try:
            hashes[kind] = normalise_hash(kind, text)
        except ValueError as exc:
            return BadLine(rowid, f"row {rowid}: {exc}")
    if not hashes:
        return BadLine(rowid, f"row {rowid}: no hash")
    rest = dict(zip(optional, values[len(kinds) :], strict=False))
    name = _as_text(rest.get("file_name"))
    extra = {key: rest[key] for key in ("file_size", "package_id") if rest.get(key) is not None}
    return HashRecord(
        line=rowid,
        md5=hashes.get("md5"),
        sha1=hashes.get("sha1"),
        sha256=hashes.get("sha256"),
        labels=(name,) if name else (),
        extra=extra,
    )


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip()
    return str(value).strip()
