"""A throwaway installed distribution: entry points (and the modules they name) that
``importlib.metadata`` finds, as a third-party plugin package installed beside veriscan would be.

Two ways in: ``installed(root, name, entry_points, modules)`` as a context manager, or
``install_plugin(tmp_path, monkeypatch, name, entry_points, modules)`` for the test's lifetime.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest


def _write(
    site: Path, name: str, entry_points: Mapping[str, Mapping[str, str]], modules: Mapping[str, str]
) -> Path:
    dist = site / f"{name.replace('-', '_')}-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0\n")
    lines = []
    for group, points in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{ep} = {target}" for ep, target in points.items())
        lines.append("")
    (dist / "entry_points.txt").write_text("\n".join(lines))
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    return dist


@contextmanager
def installed(
    root: Path,
    name: str,
    entry_points: Mapping[str, Mapping[str, str]],
    modules: Mapping[str, str] | None = None,
) -> Iterator[Path]:
    """Write ``<root>/<name>-0.dist-info`` declaring ``entry_points`` (group -> name -> target)
    and each of ``modules`` (module name -> source), and put ``root`` on sys.path while inside."""
    dist = _write(root, name, entry_points, modules or {})
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield dist
    finally:
        sys.path.remove(str(root))
        for module in modules or {}:
            sys.modules.pop(module, None)
        importlib.invalidate_caches()


def install_plugin(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    entry_points: Mapping[str, Mapping[str, str]],
    modules: Mapping[str, str] | None = None,
) -> Path:
    """As ``installed``, under ``<root>/site``, undone when the test ends."""
    site = root / "site"
    site.mkdir(parents=True, exist_ok=True)
    _write(site, name, entry_points, modules or {})
    for module in modules or {}:
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    return site
