"""The `veriscan` process: exit codes, Ctrl-C and crashes handled in one place.

This module imports only the standard library at the top, so Ctrl-C while the heavy imports run
(numba, PIL, the analyzers: seconds on a cold machine) ends the process at once with 130 too.

Exit codes: 0 ok; 1 completed, but some files had problems; 2 usage or setup error; 3 internal
error (a bug: the traceback goes to a log file, never to the terminal); 130 interrupted.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from veriscan import interrupts

INTERNAL_ERROR = 3
INTERRUPTED = 130
CASE_LOG = Path("logs") / "veriscan.log"


class _State:
    case: Path | None = None
    interrupt_reported = False
    sigint = False


_state = _State()


def remember_case(root: Path) -> None:
    """The case a command works on: where an internal error's traceback is written."""
    _state.case = root


def interrupt_reported() -> None:
    """The command already said where it stopped; the generic line would repeat it."""
    _state.interrupt_reported = True


def _say(message: str) -> None:
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _interrupted() -> int:
    if not _state.interrupt_reported:
        _say("interrupted: what was committed is kept; run the same command again to resume")
    _forget_unhandled_interrupt()
    return INTERRUPTED


def _forget_unhandled_interrupt() -> None:
    """A Ctrl-C that lands inside code run by ``eval``/``exec`` of a string (``namedtuple`` does
    it, numba's import hundreds of times) marks the interrupt as unhandled even once caught, and
    under ``python -m veriscan`` CPython then ends the process by SIGINT instead of with our exit
    code. Each such evaluation clears the mark before it runs (``run_eval_code_obj``), so a
    harmless one does."""
    exec("pass")


def log_traceback(exc: BaseException) -> Path | None:
    """Where a developer finds the traceback the terminal does not show."""
    return _write_log("".join(traceback.format_exception(exc)))


def _write_log(text: str) -> Path | None:
    """Append to the case's log (mode 0600 in the private case folder) when a case is known and
    writable, else a new private temp file; None only when neither can be written."""
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    entry = f"--- {stamp} pid {os.getpid()}: {' '.join(['veriscan', *sys.argv[1:]])}\n{text}\n"
    case = _state.case
    if case is not None and case.is_dir():
        path = case / CASE_LOG
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(entry)
            return path
        except OSError:
            pass
    try:
        fd, name = tempfile.mkstemp(prefix="veriscan-error-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(entry)
        return Path(name)
    except OSError:
        return None


def _from_ctrl_c(exc: BaseException) -> bool:
    """Python wraps some exceptions (a Ctrl-C inside ``__set_name__`` while a class is built
    becomes a RuntimeError): an error caused by Ctrl-C is an interrupt, not a bug."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return False


def _internal_error(exc: BaseException) -> int:
    if _from_ctrl_c(exc):
        return _interrupted()
    written = log_traceback(exc)
    where = f"the full traceback is in {written}" if written else "no log could be written"
    _say(
        f"internal error ({type(exc).__name__}), a bug in veriscan: {where}; "
        "what was committed before it is kept"
    )
    return INTERNAL_ERROR


def _on_sigint(signum: int, frame: Any) -> None:
    _state.sigint = True
    interrupts.request()
    raise KeyboardInterrupt


def guarded(command: Callable[[], Any]) -> int:
    """Run the Typer app (standalone: it prints usage errors itself and ends in SystemExit) and
    map every other way it can end to the documented exit code. Typer turns Ctrl-C into an exit
    (130, or 1 with "Aborted!" in older releases): the SIGINT flag tells them apart."""
    import signal

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _on_sigint) if main_thread else None
    interrupts.clear()
    interrupts.install_unraisable_hook()
    try:
        command()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        code = INTERRUPTED
    except Exception as exc:
        return _internal_error(exc)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    if code == INTERRUPTED or (_state.sigint and code in (0, 1)):
        # a Ctrl-C swallowed inside a callback still ends as an interrupt
        return _interrupted()
    return code


def _stop_while_starting(signum: int, frame: Any) -> None:
    """Ctrl-C while the modules load: nothing is written yet and no process started, so the
    exit is immediate. An exception there is not safe: C extensions (numba's) print their own
    traceback when an import they run is interrupted."""
    _interrupted()
    os._exit(INTERRUPTED)


def main() -> None:
    """Console-script entry point."""
    import signal

    previous = signal.signal(signal.SIGINT, _stop_while_starting)
    try:
        from veriscan.cli.app import app
    except Exception as exc:  # a failing import is a broken installation: still one line
        sys.exit(_internal_error(exc))
    finally:
        signal.signal(signal.SIGINT, previous)
    sys.exit(guarded(app))
