"""What every command module shares: the consoles and the one-line usage-error exit."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from veriscan.cli.entry import remember_case
from veriscan.store.case import Case, CaseError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """One line, whatever a library's message holds (drivers write several)."""
    err.print(f"[red]error:[/red] {escape(' '.join(message.split()))}", highlight=False)
    raise typer.Exit(2)


def open_case(path: Path) -> Case:
    try:
        case = Case.open(path)
    except CaseError as exc:
        fail(str(exc))
    remember_case(case.root)
    return case


def audit_export(case: Case, fmt: str, target: str, **details: object) -> None:
    """Exports take evidence-derived data out of the case: each one is an audit entry."""
    import getpass

    from veriscan.review import audit

    entry = audit.append(
        case, f"cli:{getpass.getuser()}", "export", target, {"format": fmt, **details}
    )
    if Path(target).is_file():  # the head goes with the file, for `audit verify --against`
        from veriscan.review.anchor import write_sidecar

        write_sidecar(Path(target), entry.seq, entry.hash, fmt)
