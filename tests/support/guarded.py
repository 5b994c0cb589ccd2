"""Running veriscan commands in subprocesses with the network guarded and the home folder watched.

Two guards, because telemetry comes from Python code and from native libraries alike:
- ``netguard/sitecustomize.py``, on PYTHONPATH, refuses and records every Python-level connection,
  datagram and name lookup that would leave the machine;
- ``strace`` (where it can trace) records the connect/sendto/sendmsg system calls of every process
  and thread, which catches a native library (onnxruntime's uploader is C++ with curl), and every
  system call that creates, writes, renames or removes a file, anywhere on the machine.
Each command gets a fresh, empty HOME (so ``~/.cache``, ``~/.config``, ``~/.local`` all fall under
it), its own temp folder and an empty working folder; :meth:`Sandbox.written` lists what appeared
or changed in the watched folders.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
NETGUARD = SUPPORT / "netguard"
SRC = SUPPORT.parents[1] / "src"
TRACED = (
    "trace=connect,sendto,sendmsg,openat,?open,?creat,?mkdir,mkdirat,?rmdir,?rename,renameat,"
    "?renameat2,?link,linkat,?symlink,symlinkat,?unlink,unlinkat,truncate,ftruncate"
)
_ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6?, "([^"]+)"')
_CALL = re.compile(r"^\d+ +(\w+)\((.*)\) += (-?\d+)(?:<([^>]*)>)?")
_DIRFD = re.compile(r'(?:AT_FDCWD|\d+)<([^>]*)>, "([^"]*)"')
_STRING = re.compile(r'"([^"]*)"')
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")

Snapshot = dict[str, tuple[int, int]]


def strace_works() -> bool:
    """strace needs ptrace, which some containers forbid; the Python guard works regardless."""
    if shutil.which("strace") is None:
        return False
    probe = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", TRACED, "-o", os.devnull, "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def snapshot(roots: Iterable[Path]) -> Snapshot:
    """Every file and folder under the roots, with size and modification time."""
    seen: Snapshot = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames]:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                seen[path] = (st.st_size, st.st_mtime_ns)
    return seen


def outside(addresses: Iterable[str]) -> list[str]:
    """The addresses that are not this machine (loopback or the unspecified address)."""
    found = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            found.append(text)
            continue
        mapped = getattr(address, "ipv4_mapped", None) or address
        if not (mapped.is_loopback or mapped.is_unspecified):
            found.append(text)
    return found


@dataclass
class Sandbox:
    root: Path
    trace: bool
    runs: int = 0
    home: Path = field(init=False)
    tmp: Path = field(init=False)
    cwd: Path = field(init=False)
    netlog: Path = field(init=False)
    traces: Path = field(init=False)

    def __post_init__(self) -> None:
        for name in ("home", "tmp", "cwd", "traces"):
            (self.root / name).mkdir(parents=True)
        self.home, self.tmp, self.cwd = self.root / "home", self.root / "tmp", self.root / "cwd"
        self.traces = self.root / "traces"
        self.netlog = self.root / "netguard.log"

    @property
    def watched(self) -> list[Path]:
        return [self.home, self.cwd]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A minimal environment: nothing from the developer's own shell leaks into the run."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join([str(NETGUARD), str(SRC)]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "VERISCAN_NETGUARD_LOG": str(self.netlog),
        }
        env.update(extra or {})
        return env

    def command(self, args: Sequence[str]) -> list[str]:
        """``python -m veriscan ARGS``, under strace when it works."""
        self.runs += 1
        cmd = [sys.executable, "-m", "veriscan", *args]
        if not self.trace:
            return cmd
        out = str(self.traces / f"run{self.runs}.trace")
        strace = ["strace", "-f", "-qq", "-y", "-s", "4096", "--seccomp-bpf", "-e", TRACED]
        return [*strace, "-o", out, *cmd]

    def run(
        self, args: Sequence[str], extra: Mapping[str, str] | None = None, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(args),
            env=self.env(extra),
            cwd=self.cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def attempts(self) -> list[str]:
        """Every refused Python-level attempt and every traced system call to another machine."""
        log = self.netlog
        found = log.read_text(encoding="utf-8").splitlines() if log.is_file() else []
        for trace in sorted(self.traces.glob("*.trace")):
            for line in trace.read_text(encoding="utf-8", errors="replace").splitlines():
                hits = [a or b for a, b in _ADDRESS.findall(line)]
                if outside(hits):
                    found.append(line)
        return found

    def traced_writes(self, allowed: Iterable[Path]) -> list[str]:
        """Every path a traced process created, opened for writing, renamed, linked, truncated or
        removed outside the allowed folders (anywhere on the machine: /tmp, /var, ...)."""
        roots = [os.path.normpath(p) for p in [*allowed, self.netlog, "/dev", "/proc"]]
        found = []
        for trace in sorted(self.traces.glob("*.trace")):
            for line in trace.read_text(encoding="utf-8", errors="replace").splitlines():
                for path in self._changed(line):
                    path = os.path.normpath(os.path.join(self.cwd, path))
                    if not any(path == r or path.startswith(r + os.sep) for r in roots):
                        found.append(f"{path}  ({line.strip()[:160]})")
        return found

    @staticmethod
    def _changed(line: str) -> list[str]:
        call = _CALL.match(line)
        if call is None or call.group(3).startswith("-"):
            return []  # failed calls change nothing
        name, args, resolved = call.group(1), call.group(2), call.group(4)
        if name in ("connect", "sendto", "sendmsg"):
            return []
        if name in ("openat", "open", "creat"):
            wants = name == "creat" or any(flag in args for flag in _WRITE_FLAGS)
            return [resolved] if wants and resolved else []
        if name == "ftruncate":
            fd = re.match(r"\d+<([^>]*)>", args)
            return [fd.group(1)] if fd else []
        at = [os.path.join(d, p) for d, p in _DIRFD.findall(args)]
        return at or _STRING.findall(args)

    @staticmethod
    def written(before: Snapshot, after: Snapshot) -> list[str]:
        return sorted(p for p, stat in after.items() if before.get(p) != stat)
