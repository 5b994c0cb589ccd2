"""Recognise AI image-generation software installed on a device, and gather what it left behind.

An install is recognised by *signatures*: sets of marker paths (relative to a candidate root) that
must all be present.  Every signature holds at least two distinct markers, because single names
such as ``webui.py`` or ``main.py`` are far too common to prove anything on their own; a stray copy
of one file must never be reported as an install.  Markers were checked against the upstream
repositories (see ``SIGNATURES``).

The scan is one pass over the rows, keeping only dictionaries keyed by folder, so it stays linear
on devices with millions of files and does not care about row order.  Locators inside archives use
``!/`` between segments; the folder holding ``a.zip!/x`` is ``a.zip!``, reported as ``a.zip``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# app -> signatures; any one fully present identifies the app. A trailing "/" marks a folder.
# Sources: AUTOMATIC1111/stable-diffusion-webui, lllyasviel/stable-diffusion-webui-forge,
# vladmandic/automatic, comfyanonymous/ComfyUI, invoke-ai/InvokeAI, lllyasviel/Fooocus,
# bmaltais/kohya_ss (paths confirmed in the stored GitHub code index).
SIGNATURES: dict[str, tuple[frozenset[str], ...]] = {
    "fooocus": (frozenset({"entry_with_update.py", "fooocus_version.py"}),),
    "forge": (frozenset({"webui.py", "modules/sd_models.py", "modules_forge/"}),),
    "sdnext": (
        frozenset({"webui.py", "modules/", "installer.py"}),
        frozenset({"webui.py", "javascript/sdnext.css"}),
        frozenset({"webui.py", "extensions-builtin/sdnext-modernui/"}),
    ),
    "automatic1111": (frozenset({"webui.py", "modules/sd_models.py"}),),
    "comfyui": (
        frozenset({"main.py", "comfy/", "nodes.py"}),
        frozenset({"main.py", "comfy/", "execution.py"}),
    ),
    "invokeai": (
        frozenset({"invokeai.yaml", "databases/invokeai.db"}),
        frozenset({"invokeai.yaml", "models/"}),
        frozenset({"databases/invokeai.db", "models/"}),
        frozenset({"app/api_app.py", "version/invokeai_version.py"}),  # the installed package
    ),
    "kohya_ss": (
        frozenset({"kohya_gui.py", "train_network.py"}),
        frozenset({"kohya_gui.py", "sd-scripts/"}),
        frozenset({"kohya_gui.py", "kohya_gui/"}),
    ),
}
# Reported alongside a match (they corroborate it) but never enough to identify anything.
SUPPORTING: dict[str, frozenset[str]] = {
    "fooocus": frozenset({"launch.py", "webui.py", "modules/", "ldm_patched/"}),
    "forge": frozenset({"launch.py", "webui-user.bat", "webui-user.sh"}),
    "sdnext": frozenset({"launch.py", "modules/sd_models.py", "webui.bat", "webui.sh"}),
    "automatic1111": frozenset({"launch.py", "webui-user.bat", "webui-user.sh"}),
    "comfyui": frozenset({"execution.py", "nodes.py", "custom_nodes/", "comfy_extras/"}),
    "invokeai": frozenset({"databases/", "backend/"}),
    "kohya_ss": frozenset({"gui.bat", "gui.sh", "setup.bat", "setup.sh"}),
}
# These share webui.py and modules/, so a root is only ever one of them (most specific first).
WEBUI_FAMILY = ("fooocus", "forge", "sdnext", "automatic1111")

_ALL = {m for sigs in SIGNATURES.values() for s in sigs for m in s} | {
    m for ms in SUPPORTING.values() for m in ms
}
_FILE_MARKERS = frozenset(m for m in _ALL if not m.endswith("/"))
_DIR_MARKERS = frozenset(m.rstrip("/") for m in _ALL if m.endswith("/"))
_MAX_FILE_DEPTH = max(m.count("/") for m in _FILE_MARKERS) + 1
_MAX_DIR_DEPTH = max(m.count("/") for m in _DIR_MARKERS) + 1

MODEL_EXTENSIONS = frozenset({".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf"})
CONFIG_ROOT_FILES = frozenset(
    {
        "config.json",
        "ui-config.json",
        "webui-user.bat",
        "webui-user.sh",
        "params.txt",
        "invokeai.yaml",
        "extra_model_paths.yaml",
        "config.txt",
        "config.toml",
    }
)
CONFIG_ANYWHERE = frozenset({"comfy.settings.json", "extra_model_paths.yaml", "invokeai.yaml"})
OUTPUT_DIRS = frozenset({"outputs", "output"})
# Extensions worth remembering for the artefact pass; everything else is dropped at once.
_ARTEFACT_EXTENSIONS = MODEL_EXTENSIONS | {".json", ".csv", ".log", ".yaml", ".yml", ".txt"}
_ARTEFACT_EXTENSIONS |= {".bat", ".sh", ".toml"}


@dataclass
class OutputFolder:
    folder: str
    images: int
    first: float | None
    last: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "images": self.images,
            "first": self.first,
            "last": self.last,
            "first_iso": _iso(self.first),
            "last_iso": _iso(self.last),
        }


@dataclass(frozen=True)
class FileRow:
    locator: str
    size: int | None
    mtime: float | None
    mime: str | None
    sha256: str | None


@dataclass
class Install:
    app: str
    root: str
    markers: list[str]
    configs: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    outputs: list[OutputFolder] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "root": self.root,
            "markers": list(self.markers),
            "configs": list(self.configs),
            "styles": list(self.styles),
            "workflows": list(self.workflows),
            "logs": list(self.logs),
            "models": list(self.models),
            "outputs": [o.to_json() for o in self.outputs],
            "images": sum(o.images for o in self.outputs),
        }


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None  # a corrupt timestamp must not sink the whole report


def _split(path: str) -> tuple[str, str]:
    """Folder and name; archive members hang off ``a.zip!`` so prefixes stay plain strings."""
    head, _, tail = path.rpartition("/")
    return head, tail


def _join(folder: str, rel: str) -> str:
    return f"{folder}/{rel}" if folder else rel


def _display(folder: str) -> str:
    """``a.zip!`` is not a valid locator; the archive itself is what an examiner can open."""
    return folder[:-1] if folder.endswith("!") else folder


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


class _Scan:
    """Folder-keyed state gathered in the single pass over the rows."""

    def __init__(self) -> None:
        self.present: dict[str, set[str]] = {}  # candidate root -> markers seen there
        self.seen_dirs: set[str] = set()
        self.artefacts: dict[str, list[str]] = {}  # folder -> candidate artefact names
        self.images: dict[str, list[Any]] = {}  # folder -> [count, first, last]

    def add(self, row: FileRow) -> None:
        folder, name = _split(row.locator)
        if not name:
            return
        self._file_markers(row.locator)
        if folder not in self.seen_dirs:
            self._dir_markers(folder)
        if row.mime and row.mime.startswith("image/"):
            if _has_output_segment(folder):
                self._image(folder, row.mtime)
        elif _may_be_artefact(folder, name):
            self.artefacts.setdefault(folder, []).append(name)

    def _file_markers(self, locator: str) -> None:
        cut = len(locator)
        for _ in range(_MAX_FILE_DEPTH):
            cut = locator.rfind("/", 0, cut)
            rel = locator[cut + 1 :]
            if rel in _FILE_MARKERS:
                self.present.setdefault(locator[: max(cut, 0)], set()).add(rel)
            if cut < 0:
                return

    def _dir_markers(self, folder: str) -> None:
        """Walk up until a folder already seen, so every folder is examined once in total."""
        while folder and folder not in self.seen_dirs:
            self.seen_dirs.add(folder)
            cut = len(folder)
            for _ in range(_MAX_DIR_DEPTH):
                cut = folder.rfind("/", 0, cut)
                rel = folder[cut + 1 :]
                if rel in _DIR_MARKERS:
                    self.present.setdefault(folder[: max(cut, 0)], set()).add(rel + "/")
                if cut < 0:
                    break
            folder = _split(folder)[0]

    def _image(self, folder: str, mtime: float | None) -> None:
        agg = self.images.get(folder)
        if agg is None:
            self.images[folder] = [1, mtime, mtime]
            return
        agg[0] += 1
        if mtime is not None:
            agg[1] = mtime if agg[1] is None else min(agg[1], mtime)
            agg[2] = mtime if agg[2] is None else max(agg[2], mtime)


def _has_output_segment(folder: str) -> bool:
    low = folder.lower()
    return "output" in low and any(s in OUTPUT_DIRS for s in low.replace("!", "").split("/"))


def _identify(markers: set[str]) -> list[str]:
    """Apps at one root; the webui family is mutually exclusive, the others may coexist."""
    matched = [app for app, sigs in SIGNATURES.items() if any(s <= markers for s in sigs)]
    family = [a for a in WEBUI_FAMILY if a in matched]
    return [a for a in matched if a not in WEBUI_FAMILY or a == family[0]]


_CONFIG_NAMES = frozenset(p.rsplit("/", 1)[-1] for p in CONFIG_ROOT_FILES) | CONFIG_ANYWHERE


def _may_be_artefact(folder: str, name: str) -> bool:
    """What ``_classify`` could accept under some root; anything else is dropped during the pass,
    so memory follows the number of artefacts, not the number of files on the device."""
    ext = _ext(name)
    if ext not in _ARTEFACT_EXTENSIONS and "/log" not in f"/{folder}":
        return False
    low = name.lower()
    dirs = folder.lower().split("/")
    return (
        low in _CONFIG_NAMES
        or low == "styles.csv"
        or (ext == ".json" and ("styles" in dirs or "workflows" in dirs))
        or ext == ".log"
        or "logs" in dirs
        or "log" in dirs
        or (ext in MODEL_EXTENSIONS and "models" in dirs)
    )


def _classify(rel: str) -> str | None:
    """Which artefact list a root-relative path belongs to, by where the apps write them."""
    parts = rel.lower().split("/")
    name, dirs, ext = parts[-1], parts[:-1], _ext(parts[-1])
    if rel in CONFIG_ROOT_FILES or name in CONFIG_ANYWHERE:
        return "configs"
    if name == "styles.csv" or (ext == ".json" and dirs and dirs[-1] == "styles"):
        return "styles"
    if ext == ".json" and "workflows" in dirs:
        return "workflows"
    if ext == ".log" or "logs" in dirs or dirs[:1] == ["log"]:  # A1111 saves log/log.csv
        return "logs"
    if ext in MODEL_EXTENSIONS and dirs and dirs[0] == "models":
        return "models"
    return None


def _owner(folder: str, roots: dict[str, list[Install]], memo: dict[str, str | None]) -> str | None:
    """Innermost install root containing ``folder``; memoised since siblings share ancestors."""
    path: list[str] = []
    cur = folder
    found: str | None = None
    while True:
        if cur in memo:
            found = memo[cur]
            break
        path.append(cur)
        if cur in roots:
            found = cur
            break
        if not cur:
            break
        cur = _split(cur)[0]
    for p in path:
        memo[p] = found
    return found


def _rel(root: str, path: str) -> str:
    return path[len(root) + 1 :] if root else path


def find_installs(rows: Iterable[FileRow]) -> list[Install]:
    """One pass over ``rows`` (any order), then per-folder lookups; installs sorted by root."""
    scan = _Scan()
    for row in rows:
        scan.add(row)

    roots: dict[str, list[Install]] = {}
    for root, markers in scan.present.items():
        for app in _identify(markers):
            known = {m for s in SIGNATURES[app] for m in s} | SUPPORTING[app]
            found = sorted(_join(root, m.rstrip("/")) for m in markers & known)
            roots.setdefault(root, []).append(Install(app, _display(root), found))
    if not roots:
        return []

    memo: dict[str, str | None] = {}
    for folder in sorted(scan.artefacts):
        owner = _owner(folder, roots, memo)
        if owner is None:
            continue
        for name in sorted(scan.artefacts[folder]):
            locator = _join(folder, name)
            kind = _classify(_rel(owner, locator))
            if kind is not None:
                for inst in roots[owner]:
                    getattr(inst, kind).append(locator)
    for folder in sorted(scan.images):
        owner = _owner(folder, roots, memo)
        if owner is None or _rel(owner, folder).lower().split("/")[0] not in OUTPUT_DIRS:
            continue
        count, first, last = scan.images[folder]
        for inst in roots[owner]:
            inst.outputs.append(OutputFolder(folder, count, first, last))

    return sorted((i for group in roots.values() for i in group), key=lambda i: (i.root, i.app))
