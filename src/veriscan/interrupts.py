"""Ctrl-C that must not get lost.

The process's SIGINT handler raises KeyboardInterrupt, but Python swallows an exception raised
inside a garbage-collector callback or ``__del__`` ("Exception ignored in ..."), and the command
would then run on as if nothing had been pressed. The handler also records the request here, a
module of the standard library's weight that both the CLI entry and the pipeline may import, so
the pipeline's next interrupt check still stops the run.
"""

from __future__ import annotations

import sys
from typing import Any

_pending = False


def request() -> None:
    """Ctrl-C was pressed; remembered until :func:`clear`."""
    global _pending
    _pending = True


def pending() -> bool:
    return _pending


def clear() -> None:
    global _pending
    _pending = False


def install_unraisable_hook() -> None:
    """A KeyboardInterrupt swallowed in a callback is already recorded: say nothing about it
    (no traceback on the terminal); anything else goes to Python's usual hook."""
    previous = sys.unraisablehook
    if getattr(previous, "veriscan_interrupts", False):
        return

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            request()
            return
        previous(unraisable)

    hook.veriscan_interrupts = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook
