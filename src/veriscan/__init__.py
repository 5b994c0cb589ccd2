"""veriscan: offline forensic triage with evidence, not guesses."""

from importlib.metadata import PackageNotFoundError, version

from veriscan.offline import quiet_environment

quiet_environment()  # before any dependency that collects telemetry can be imported

try:
    __version__ = version("veriscan")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"
