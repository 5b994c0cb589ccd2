"""Switches that keep veriscan's libraries from reporting home or writing outside the case.

veriscan promises no telemetry: a seized file, a model name or even the fact that an examiner ran
a tool must not leave the machine. Some dependencies collect by default, so their documented
off-switches are set here, in the process environment, before any of them is imported
(``veriscan/__init__.py`` calls :func:`quiet_environment`), and child processes (worker pools,
Ray workers started by this process) inherit them:

- onnxruntime's official Linux/macOS wheels (1DS telemetry since 1.29) create a persistent
  device id and an event queue under ``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` and a
  session file in the temp folder on import, and upload the events to Microsoft.
  ``disable_telemetry_events()`` only suppresses later, non-essential events; the environment
  variable ``ORT_DISABLE_TELEMETRY=1`` read at initialisation creates nothing at all.
- FastAPI (0.142 on) exports OpenTelemetry traces, metrics and logs to an OTLP endpoint when
  ``FASTAPI_OTEL_AUTO_CONFIGURE=true``; the review app also turns it off in ``FastAPI()``.
  ``OTEL_SDK_DISABLED=true`` is OpenTelemetry's own switch for any SDK that might be loaded.
- Ray's usage statistics follow ``RAY_USAGE_STATS_ENABLED`` over ``~/.ray/config.json``.
- numba caches compiled code next to the package; where that folder is read-only it falls back
  to ``~/.cache/numba``, so then the cache goes to a private temporary folder instead.

tests/integration/test_offline.py runs a scan, the review app and a list import with a guarded
network and a fresh home folder, and fails on any connection or file outside the case.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from types import ModuleType

SWITCHES = {
    "ORT_DISABLE_TELEMETRY": "1",
    "OTEL_SDK_DISABLED": "true",
    "RAY_USAGE_STATS_ENABLED": "0",
    "DO_NOT_TRACK": "1",
}
CLEARED = ("FASTAPI_OTEL_AUTO_CONFIGURE",)
_JIT_MODULE_DIR = Path(__file__).resolve().parent / "matching"


def quiet_environment(environ: MutableMapping[str, str] | None = None) -> None:
    """Sets every switch, overriding any value the user's shell carries: the promise is absolute."""
    env = os.environ if environ is None else environ
    env.update(SWITCHES)
    for name in CLEARED:
        env.pop(name, None)
    if "NUMBA_CACHE_DIR" not in env and not _writable(_JIT_MODULE_DIR):
        private = tempfile.mkdtemp(prefix="veriscan-numba-")
        atexit.register(shutil.rmtree, private, ignore_errors=True)
        env["NUMBA_CACHE_DIR"] = private


def _writable(folder: Path) -> bool:
    cache = folder / "__pycache__"
    return os.access(cache if cache.is_dir() else folder, os.W_OK)


def onnxruntime() -> ModuleType:
    """onnxruntime, imported only once the switches are set (late: it slows every CLI start)."""
    quiet_environment()
    import onnxruntime

    onnxruntime.disable_telemetry_events()
    module: ModuleType = onnxruntime
    return module
