"""veriscan's public plugin surface: the contracts a third-party package implements.

A plugin imports from here only; everything else in veriscan may move between releases. Plugins are
found through entry points (``veriscan.sources``, ``veriscan.analyzers``, ``veriscan.exporters``,
``veriscan.matchers``), the same path the built-ins take, and each kind's registry getter checks
that the class subclasses its contract below.

- :class:`EvidenceSource` reads one kind of evidence (folder, file, disk image) into items.
- :class:`StreamingAnalyzer` sees every chunk of every file; :class:`Analyzer` sees whole
  contents it ``wants`` through a :class:`FileContext`, after the analyzers it ``requires``.
- Analyzers return facts (:class:`Digest`, :class:`Attribute`, :class:`Artifact`,
  :class:`Verdict`, :class:`Problem`); a failure is a Problem, never an exception.
- :class:`Exporter` writes one artifact from a case (``veriscan export ID CASE``).
- :class:`Matcher` matches stored hashes against lists.
- Settings: each analyzer gets its own table, ``[veriscan.analyzers.ID]`` in ``veriscan.toml``,
  declared as a dataclass (``Config = MyConfig``) or validated by a ``validate(table)``
  classmethod, and read back as ``self.config``; :func:`table_config` builds a dataclass from a
  table with the same checks. The flat :class:`Settings` are read-only to plugins.
"""

from __future__ import annotations

from veriscan.analyzers.base import Analyzer, FileContext, StreamingAnalyzer, StreamState
from veriscan.domain import Artifact, Attribute, Digest, Fact, Item, Locator, Problem, Verdict
from veriscan.matching.base import Matcher
from veriscan.plugins import PluginError, Registry, load_registry
from veriscan.reports.base import Exporter
from veriscan.settings import Settings, SettingsError, table_config
from veriscan.sources.base import EvidenceSource, SourceError, SourceSpec

__all__ = [
    "Analyzer",
    "Artifact",
    "Attribute",
    "Digest",
    "EvidenceSource",
    "Exporter",
    "Fact",
    "FileContext",
    "Item",
    "Locator",
    "Matcher",
    "PluginError",
    "Problem",
    "Registry",
    "Settings",
    "SettingsError",
    "SourceError",
    "SourceSpec",
    "StreamState",
    "StreamingAnalyzer",
    "Verdict",
    "load_registry",
    "table_config",
]
