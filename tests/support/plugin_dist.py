"""A throwaway installed distribution: entry points that importlib.metadata finds like any other.

``install_plugin(tmp_path, monkeypatch, "name", {group: {id: "module:Class"}}, modules={...})``
writes ``<tmp>/site/<name>-0.dist-info`` (METADATA + entry_points.txt) and any module sources,
and puts that folder first on sys.path for the test only.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest


def install_plugin(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    entry_points: Mapping[str, Mapping[str, str]],
    modules: Mapping[str, str] | None = None,
) -> Path:
    site = root / "site"
    info = site / f"{name.replace('-', '_')}-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0\n")
    lines = []
    for group, named in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {target}" for key, target in named.items()]
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines))
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(source)
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    return site
