"""What every command module shares: the consoles and the one-line usage-error exit."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from veriscan.store.case import Case, CaseError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(2)


def open_case(path: Path) -> Case:
    try:
        return Case.open(path)
    except CaseError as exc:
        fail(str(exc))
