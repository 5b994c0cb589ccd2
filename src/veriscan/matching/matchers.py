"""The ``veriscan.matchers`` plugins, kept for compatibility: each delegates to signal types.

New hash types are signal types (:mod:`veriscan.matching.signals`); the engine matches through
those. These three keep the older contract (one matcher, several hash kinds) working.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from veriscan.matching.base import CaseHashes, HashList, Hit, Matcher
from veriscan.matching.signals.base import SignalType
from veriscan.matching.signals.exact import Md5Signal, Sha1Signal, Sha256Signal
from veriscan.matching.signals.pdq import PdqSignal
from veriscan.matching.signals.vpdq import VpdqSignal


class _Delegating(Matcher):
    signals: ClassVar[tuple[type[SignalType[Any]], ...]]

    def match(self, hash_list: HashList, contents: Sequence[CaseHashes]) -> Iterator[Hit]:
        for cls in self.signals:
            if cls.id in hash_list.kinds():
                yield from cls().match_contents(hash_list, contents)


class ExactMatcher(_Delegating):
    id = "exact"
    version = "1"
    kinds = frozenset({"md5", "sha1", "sha256"})
    signals = (Md5Signal, Sha1Signal, Sha256Signal)


class PdqMatcher(_Delegating):
    """Images below the list's quality floor are not compared: their hashes match too easily."""

    id = "pdq"
    version = "1"
    kinds = frozenset({"pdq"})
    signals = (PdqSignal,)


class VpdqMatcher(_Delegating):
    """Candidates from a frame index, then the share of matched frames both ways."""

    id = "vpdq"
    version = "1"
    kinds = frozenset({"vpdq"})
    signals = (VpdqSignal,)
