"""A throwaway installed distribution: entry points (and the modules they name) that
``importlib.metadata`` finds, as a third-party plugin package installed beside veriscan would be."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def installed(
    root: Path,
    name: str,
    entry_points: Mapping[str, Mapping[str, str]],
    modules: Mapping[str, str] = {},
) -> Iterator[Path]:
    """Write ``<root>/<name>-0.dist-info`` declaring ``entry_points`` (group -> name -> target)
    and each of ``modules`` (module name -> source), and put ``root`` on sys.path while inside."""
    dist = root / f"{name.replace('-', '_')}-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0\n")
    lines = []
    for group, points in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{ep} = {target}" for ep, target in points.items())
        lines.append("")
    (dist / "entry_points.txt").write_text("\n".join(lines))
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield dist
    finally:
        sys.path.remove(str(root))
        for module in modules:
            sys.modules.pop(module, None)
        importlib.invalidate_caches()
