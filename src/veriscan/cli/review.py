"""`veriscan users ...` and `veriscan audit ...`: review accounts and the audit log."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from veriscan.cli.common import err, fail, open_case, out
from veriscan.review import anchor, audit
from veriscan.review.users import (
    ROLES,
    UserError,
    add_user,
    list_users,
    remove_user,
    set_password,
)

users_app = typer.Typer(help="Review accounts of a case (argon2 password hashes).")
audit_app = typer.Typer(help="The case's hash-chained audit log.")

CaseArg = Annotated[Path, typer.Argument(metavar="CASE")]
StdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        fail("the two passwords differ")
    return first


@users_app.command("add")
def users_add(
    case_dir: CaseArg,
    username: Annotated[str, typer.Argument(metavar="USER")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")] = "reviewer",
    password_stdin: StdinOpt = False,
) -> None:
    """Add an account (the first one must be an admin)."""
    case = open_case(case_dir)
    try:
        add_user(case, _actor(), username, role, _password(password_stdin))
    except UserError as exc:
        fail(str(exc))
    out.print(f"user {username} added as {role}", markup=False, highlight=False)


@users_app.command("rm")
def users_rm(case_dir: CaseArg, username: Annotated[str, typer.Argument(metavar="USER")]) -> None:
    """Remove an account (never the last admin)."""
    case = open_case(case_dir)
    try:
        remove_user(case, _actor(), username)
    except UserError as exc:
        fail(str(exc))
    out.print(f"user {username} removed", markup=False, highlight=False)


@users_app.command("passwd")
def users_passwd(
    case_dir: CaseArg,
    username: Annotated[str, typer.Argument(metavar="USER")],
    password_stdin: StdinOpt = False,
) -> None:
    """Set an account's password."""
    case = open_case(case_dir)
    try:
        set_password(case, _actor(), username, _password(password_stdin))
    except UserError as exc:
        fail(str(exc))
    out.print(f"password of {username} changed", markup=False, highlight=False)


@users_app.command("ls")
def users_ls(case_dir: CaseArg) -> None:
    """Accounts and their roles."""
    for user in list_users(open_case(case_dir)):
        out.print(f"{user.username}  {user.role}  {user.created_at}", markup=False)


@audit_app.command("verify")
def audit_verify(
    case_dir: CaseArg,
    against: Annotated[
        list[str] | None,
        typer.Option(
            "--against",
            metavar="HEAD-OR-FILE",
            help="Also hold the log against a head recorded elsewhere (repeatable): SEQ:HASH, "
            "an entry hash, or a file recording one (FILE.audit-head, an HTML report, an "
            "`audit export` file, a copy of CASE/audit.head).",
        ),
    ] = None,
) -> None:
    """Check the whole chain; exit 1 and say where when an entry was edited, deleted or moved."""
    try:
        anchors = [anchor.parse(spec) for spec in against or []]
    except anchor.AnchorError as exc:
        fail(str(exc))
    result = audit.verify(open_case(case_dir), anchors)
    if result.ok:
        out.print(f"audit log intact: {result.entries} entries, head {result.head}", markup=False)
        for held in result.anchors:
            out.print(f"  holds {held.value}, recorded by {held.source}", markup=False)
        for note in result.notes:
            out.print(f"  note: {note}", markup=False, highlight=False)
        return
    where = f" at entry {result.position}" if result.position is not None else ""
    err.print(
        f"audit log broken{where}: {result.problem}",
        markup=False,
        highlight=False,
    )
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    case_dir: CaseArg,
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
) -> None:
    """Every entry as JSON lines; the head hash goes to stderr to be recorded elsewhere."""
    case = open_case(case_dir)
    sink = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        for e in audit.entries(case):
            sink.write(json.dumps(e.__dict__, sort_keys=True, ensure_ascii=False) + "\n")
    finally:
        if output:
            sink.close()
    result = audit.verify(case)
    state = "intact" if result.ok else f"BROKEN at entry {result.position}"
    err.print(f"{result.entries} entries, {state}, head {result.head}", markup=False)
    audit.append(case, _actor(), "audit-export", str(output or "stdout"))


def serve(
    case_dir: CaseArg,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8765,
    certfile: Annotated[Path | None, typer.Option("--certfile", help="TLS certificate.")] = None,
    keyfile: Annotated[Path | None, typer.Option("--keyfile", help="TLS private key.")] = None,
    scheme: Annotated[
        str | None, typer.Option("--scheme", help="Override the case's scheme (US, UK, TOML).")
    ] = None,
    priority: Annotated[
        str,
        typer.Option(
            "--priority", help="Queue order: victims-first (default), unreviewed-first, sha256."
        ),
    ] = "victims-first",
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Another Host name (or name:port) browsers may use, e.g. behind a proxy.",
        ),
    ] = None,
) -> None:
    """Serve the review app for CASE (log in with an account from `veriscan users add`)."""
    try:
        import uvicorn

        from veriscan.web.app import create_app
    except ImportError as exc:
        fail(f"the review app needs the [web] extra: pip install 'veriscan[web]' ({exc})")
    if (certfile is None) != (keyfile is None):
        fail("--certfile and --keyfile go together")
    tls = certfile is not None
    if host not in ("127.0.0.1", "localhost", "::1") and not tls:
        err.print(
            f"warning: serving on {host} without TLS: passwords and images cross the network "
            "unencrypted; use --certfile/--keyfile",
            markup=False,
        )
    if not list_users(open_case(case_dir)):
        fail(f"no accounts in {case_dir}: add one with `veriscan users add CASE NAME --role admin`")
    try:
        app = create_app(
            case_dir,
            scheme=scheme,
            secure_cookies=tls,
            priority=priority,
            allowed_hosts=(host, *(allow_host or ())),
        )
    except ValueError as exc:
        fail(str(exc))
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)
    out.print(f"review app on http{'s' if tls else ''}://{shown}:{port}/", markup=False)
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
    )


def case_scheme_cmd(
    case_dir: CaseArg,
    scheme: Annotated[
        str | None, typer.Argument(metavar="[SCHEME]", help="US, UK or a custom scheme TOML file.")
    ] = None,
) -> None:
    """Show the case's category scheme, or choose it (recorded in the audit log)."""
    from veriscan.review.scheme import case_scheme, set_case_scheme

    case = open_case(case_dir)
    if scheme is None:
        chosen = case_scheme(case)
    else:
        try:
            chosen = set_case_scheme(case, _actor(), scheme)
        except ValueError as exc:
            fail(str(exc))
    out.print(f"scheme {chosen.name}:", markup=False)
    for number, category in enumerate(chosen.categories, start=1):
        out.print(f"  key {number}: {category.key} ({category.label})", markup=False)
